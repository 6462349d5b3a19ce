"""Human-readable views of an optimize report: the CLI summary and the model card body."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any, unit: str = "") -> str:
    if isinstance(value, float):
        return f"{value:.4g}{unit}"
    return f"{value}{unit}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    b, a = report["before"], report["after"]
    lines = [
        f"{report['method']} on {report['model']} ({report['device']}, {report['threads']} threads, "
        f"input {input_label(report)})",
        f"  params       {b['params']:,} -> {a['params']:,} (non-zero {a['nonzero_params']:,})",
        f"  stored size  {b['stored_bytes'] / 1e6:.3f} MB -> {a['stored_bytes'] / 1e6:.3f} MB",
        f"  latency      {b['latency_ms']:.1f} ms -> {a['latency_ms']:.1f} ms (speed-up ×{_fmt(report['speedup'])})",
    ]
    if "psnr_y" in b:
        lines.append(
            f"  PSNR-Y       {b['psnr_y']:.3f} dB -> {a['psnr_y']:.3f} dB (delta {report['psnr_delta_db']:+.3f} dB)"
        )
    if "fidelity_psnr" in a:
        lines.append(f"  fidelity     {_fmt(a['fidelity_psnr'], ' dB')} PSNR against the original outputs")
    for key, value in report.get("details", {}).items():
        if isinstance(value, (dict, list)) and len(str(value)) > 120:
            continue
        lines.append(f"  {key}: {value}")
    return lines


def table(report: dict[str, Any]) -> str:
    b, a = report["before"], report["after"]
    rows = [
        ("parameters", f"{b['params']:,}", f"{a['params']:,}"),
        ("non-zero parameters", f"{b['nonzero_params']:,}", f"{a['nonzero_params']:,}"),
        ("stored size (MB)", f"{b['stored_bytes'] / 1e6:.3f}", f"{a['stored_bytes'] / 1e6:.3f}"),
        ("latency (ms, median)", f"{b['latency_ms']:.1f}", f"{a['latency_ms']:.1f}"),
    ]
    if "psnr_y" in b:
        rows.append(("PSNR-Y (dB)", f"{b['psnr_y']:.3f}", f"{a['psnr_y']:.3f}"))
    text = ["| | original | optimized |", "|---|---|---|"] + [f"| {r} | {x} | {y} |" for r, x, y in rows]
    return "\n".join(text)


def optimized_card(model: Any, report: dict[str, Any]) -> str:
    from .publish import card_text

    metrics = {}
    if "psnr_y" in report["after"]:
        metrics = {"psnr_y": round(report["after"]["psnr_y"], 4), "dataset": report.get("eval_set", "eval")}
    body = "\n".join(
        [
            "## Optimization",
            "",
            f"Produced by `genedit optimize {report['model']} --method {report['method']}` "
            f"(genedit-compress) on {report['device']} with torch {report['torch']}.",
            "",
            f"Options: `{report['params']}`" if report["params"] else "Default options.",
            "",
            table(report),
            "",
            f"Speed-up ×{_fmt(report['speedup'])} measured side by side in one process on a "
            f"{input_label(report)} input. Details: see `report.json`.",
            "",
            "Load it back with `--weights THIS_FOLDER` (architectures changed by the method need "
            "genedit-compress installed).",
        ]
    )
    return card_text(
        model,
        metrics=metrics or None,
        tags=("optimized", report["method"]),
        body=body,
        base_model=report.get("weights") if str(report.get("weights", "")).startswith("hf://") else None,
    )


def input_label(report: dict[str, Any]) -> str:
    """``256×256`` for images, ``latent 1×100`` for generators (older reports lack the shape)."""
    shape = report.get("bench_input_shape")
    if shape and len(shape) != 4:
        return "latent " + "×".join(str(d) for d in shape)
    return f"{report['bench_input'][0]}×{report['bench_input'][1]}"
