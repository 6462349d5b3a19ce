"""``genedit bench MODEL --compare``: every way this machine can run a model, side by side.

The paths, each prepared on its own fresh copy of the model and timed round-robin with the others
(so load from other jobs hits them alike, see :func:`.bench.time_round_robin`):

* **torch fp32 eager**: the module called on an fp32 NCHW input, what a peer library does;
* **torch default**: what ``genedit run --backend torch`` does, through the core's tiler: the
  dtype ``--dtype auto`` chooses for the card (bf16 where the card and CPU allow), channels_last;
* **every installed runtime that converts a built model** (entry points of ``genedit.backends``
  with ``convert``, found by :func:`genedit_core.sdk.installed_backends`; none named here), at the
  same dtype and through the same tiler;
* **ONNX Runtime** on an export this plugin makes on the spot, when its ``onnxruntime`` runtime is
  installed, and every ``--artifact`` (an ``.onnx`` file, or a folder ``genedit optimize`` wrote,
  such as an int8 one).

Per path: median time, GFLOP/s of its convs against the conv peak measured in the same run for
its precision (:func:`.measure.conv_peak`), the PSNR of its output against fp32 eager's, and for an
upscaler the PSNR change against a ground truth it was downscaled from. The fastest of the torch
default and the converting runtimes whose outputs agree is written into the table
``--backend auto`` reads (:func:`genedit_core.sdk.record_backend_times`).
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import ProgressFn, get_size, silent

from . import measure
from ._wrap import example_input
from .bench import Variant, time_round_robin

#: A runtime enters the auto table only if its output is at least this close to fp32 eager's
#: (PSNR in dB on 0–1 images), or as close as the torch default's: faster but wrong never wins.
AGREEMENT_DB = 40.0
#: The CPU flags that decide which kernels run (printed with the peak, as the issue asks).
SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


@dataclass
class Row:
    """One compared path: how it ran, or why it did not."""

    label: str
    runtime: str
    dtype: str
    variant: Variant | None = None
    note: str = ""
    auto_candidate: bool = False
    stats: dict[str, Any] = field(default_factory=dict)


def _tiler(model: Any) -> Any:
    """What ``genedit run`` calls per image (untiled): pad, cast, channels_last, model, crop."""
    from genedit_core.sdk import run_with_oom_retry

    if model.takes_latent:
        return model.forward
    return lambda x: run_with_oom_retry(model, x, None)


def _load(name: str, **kw: Any) -> Any:
    from genedit_core.sdk import load

    model = load(name, **kw)
    if model.module is not None and hasattr(model.module, "eval"):
        model.module.eval()
    return model


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:160]


def cpu_line() -> str:
    from genedit_core.sdk import cpu_flags, cpu_name

    flags = cpu_flags()
    have = [f for f in SHOWN_FLAGS if f in flags]
    return f"{cpu_name()}; flags: {' '.join(have) or 'none of ' + ' '.join(SHOWN_FLAGS)}"


def compare_model(
    name: str,
    *,
    size: str = "512",
    weights: str | None = None,
    scale: int | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    repeats: int = 5,
    backends: list[str] | None = None,
    artifacts: list[str] | None = None,
    onnx: bool = True,
    record: bool = True,
    progress: ProgressFn = silent,
) -> dict[str, Any]:
    """Time every path (see the module doc) and return ``{"header": ..., "rows": [...]}``.

    ``backends`` limits the runtimes compared to those named (default: every installed one);
    ``onnx=False`` skips the on-the-spot ONNX export. ``record`` writes the winner into the auto
    table.
    """
    from genedit_core.sdk import dtype_name, installed_backends

    h, w = get_size({"size": size}, "size", (512, 512))
    progress(f"load {name}")
    common = {"weights": weights, "scale": scale, "device": device}
    base = _load(name, dtype="fp32", backend="torch", **common)
    card = base.card
    upscaler = "upscale" in card.tasks and base.scale > 1 and not base.takes_latent
    truth = example_input(base, h * base.scale, w * base.scale) if upscaler else None
    if truth is not None:
        from genedit_core.sdk import downscale

        x = downscale(truth.float().cpu(), base.scale).to(base.device)
    else:
        x = example_input(base, h, w)
    paths = [Row("torch fp32 eager", "torch", "fp32", Variant("torch fp32 eager", base.forward, x, base, {}))]
    default = _load(name, dtype=dtype, backend="torch", **common)
    default_dtype = dtype_name(default.dtype)
    paths.append(
        Row(
            "torch default",
            "torch",
            default_dtype,
            Variant("torch default", _tiler(default), x, default, {}),
            auto_candidate=True,
        )
    )
    wanted = set(backends) if backends else None
    converting, files = installed_backends(kind="convert"), installed_backends(kind="file")
    for b in installed_backends():
        if wanted is not None and b not in wanted:
            continue
        if b in converting:
            progress(f"prepare {b}")
            paths.append(_converted(name, b, dtype, common, x))
        elif b not in files:  # neither kind: its entry point did not load
            paths.append(
                Row(b, b, "?", note="failed: its entry point does not load ('genedit --verbose' says why)")
            )
    with tempfile.TemporaryDirectory(prefix="genedit-compare-") as tmp:
        if onnx and "onnxruntime" in files and (wanted is None or "onnxruntime" in wanted):
            progress("export onnx")
            paths.append(_onnx_export(name, common, x, Path(tmp), base.takes_latent))
        for art in artifacts or []:
            progress(f"prepare {art}")
            paths.append(_artifact(name, art, {**common, "weights": art}, x))
        runnable = [p.variant for p in paths if p.variant is not None]
        probes = _peak_probes(base.device, {p.dtype for p in paths if p.variant is not None})
        # the peak conv runs in the same rounds as the paths, so it meets the same load
        times = time_round_robin(runnable + [v for v, _ in probes.values()], repeats, progress=progress)
        progress("outputs")
        with torch.inference_mode():
            outputs = {v.name: v.forward(v.x).float().cpu() for v in runnable}
    peaks = {d: flop / statistics.median(times[v.name]) / 1e9 for d, (v, flop) in probes.items()}
    for d in {p.dtype for p in paths if p.variant is not None} - set(peaks):
        if "fp32" in peaks:  # other precisions (an int8 program's) are compared with the fp32 peak
            peaks[d] = peaks["fp32"]
    flops = _flops(base, x)
    ref = outputs[paths[0].label]
    fp32_median = statistics.median(times[paths[0].label])
    for p in paths:
        if p.variant is None:
            continue
        median = statistics.median(times[p.label])
        y = outputs[p.label]
        agree = _psnr(y, ref)
        p.stats = {
            "median_ms": median * 1e3,
            "speedup": fp32_median / median,
            "gflops": flops / median / 1e9 if flops else None,
            "peak_share": (flops / median / 1e9) / peaks[p.dtype] if flops and peaks.get(p.dtype) else None,
            "psnr_vs_fp32": agree,
            "psnr_change_vs_truth": (_psnr(y, truth) - _psnr(ref, truth)) if truth is not None else None,
        }
    header = {
        "model": name,
        "card": card.name,
        "scale": base.scale,
        "size": [h, w],
        "device": str(base.device),
        "cpu": cpu_line(),
        "threads": torch.get_num_threads(),
        "repeats": repeats,
        "gflop_per_pass": flops / 1e9 if flops else None,
        "conv_peak_gflops": peaks,
    }
    header["auto"] = _record(paths, card, base, default_dtype, None if base.takes_latent else (h, w), record)
    rows = [
        {"path": p.label, "runtime": p.runtime, "dtype": p.dtype, "note": p.note, **p.stats} for p in paths
    ]
    return {"header": header, "rows": rows}


def _converted(name: str, backend: str, dtype: str, common: dict[str, Any], x: torch.Tensor) -> Row:
    from genedit_core.sdk import dtype_name

    try:
        model = _load(name, dtype=dtype, backend=backend, **common)
    except Exception as exc:  # one runtime's failure is its row, not the end of the comparison
        return Row(backend, backend, "?", note=f"failed: {_describe(exc)}")
    ran = model.backend
    note = "" if ran == backend else f"did not convert: ran in {ran}"
    return Row(
        backend,
        ran,
        dtype_name(model.dtype),
        Variant(backend, _tiler(model), x, model, {}),
        note=note,
        auto_candidate=ran == backend,
    )


def _onnx_export(name: str, common: dict[str, Any], x: torch.Tensor, tmp: Path, latent: bool) -> Row:
    label = "onnxruntime (export)"
    if latent:
        return Row(label, "onnxruntime", "fp32", note="skipped: the model takes latents")
    try:
        from .exporting import DEFAULT_OPSET, FP32_TOLERANCE, export_onnx

        fresh = _load(name, dtype="fp32", backend="torch", **common)
        export_onnx(fresh, tmp / "model.onnx", opset=DEFAULT_OPSET, dynamic=True, tolerance=FP32_TOLERANCE)
        model = _load(name, dtype="fp32", **{**common, "weights": str(tmp / "model.onnx")})
    except Exception as exc:
        return Row(label, "onnxruntime", "fp32", note=f"failed: {_describe(exc)}")
    return Row(label, model.backend, "fp32", Variant(label, _tiler(model), x, model, {}))


def _artifact(name: str, art: str, common: dict[str, Any], x: torch.Tensor) -> Row:
    from genedit_core.sdk import dtype_name

    label = f"artifact {Path(art).name}"
    try:
        model = _load(name, dtype="auto", **common)
    except Exception as exc:
        return Row(label, "?", "?", note=f"failed: {_describe(exc)}")
    section = (model.weights.config if model.weights else {}).get("genedit") or {}
    # a method that rebuilds the network names itself under "transform"; an int8 ONNX file that
    # optimize wrote, under this plugin's own "compress" section
    method = section.get("transform") or (section.get("compress") or {}).get("method")
    label = f"{label} ({method})" if isinstance(method, str) else label
    return Row(label, model.backend, dtype_name(model.dtype), Variant(label, _tiler(model), x, model, {}))


def _peak_probes(device: Any, dtypes: set[str]) -> dict[str, tuple[Variant, float]]:
    """The peak conv (:func:`.measure.peak_conv`) as a timed variant for each precision the paths
    ran in, with its FLOPs per call; fp32 always."""
    from .measure import peak_conv

    kinds = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    probes: dict[str, tuple[Variant, float]] = {}
    for name in sorted({d for d in dtypes if d in kinds} | {"fp32"}):
        try:
            conv, x, flops = peak_conv(device, kinds[name])
            with torch.inference_mode():
                conv(x)
        except Exception:  # e.g. fp16 convs on a CPU build without them
            continue
        probes[name] = (Variant(f"conv peak {name}", conv, x, None, {}), flops)
    return probes


def _flops(model: Any, x: torch.Tensor) -> float | None:
    if model.module is None:
        return None
    from .measure import conv_flops

    try:
        return float(conv_flops(model.module, x, model.forward))
    except Exception:
        return None


def _psnr(y: torch.Tensor, ref: torch.Tensor) -> float:
    from genedit_core.sdk import psnr

    if y.shape != ref.shape:
        return float("nan")
    return psnr(y.clamp(0, 1).numpy(), ref.float().cpu().clamp(0, 1).numpy(), data_range=1.0)


def _record(
    paths: list[Row], card: Any, base: Any, dtype: str, size: tuple[int, int] | None, record: bool
) -> dict[str, Any] | None:
    """Write the auto candidates that agree with fp32 eager into the table; return what was written."""
    from genedit_core.sdk import record_backend_times

    default = next(p for p in paths if p.label == "torch default")
    floor = min(AGREEMENT_DB, default.stats.get("psnr_vs_fp32", math.inf))
    times = {
        p.runtime: p.stats["median_ms"]
        for p in paths
        if p.auto_candidate and p.dtype == dtype and p.stats and p.stats["psnr_vs_fp32"] >= floor
    }
    if not record or not times:
        return None
    return record_backend_times(card, base.scale, base.device, dtype, size, times)


def json_safe(value: Any) -> Any:
    """``value`` with infinite and NaN floats as the strings ``"inf"``/``"-inf"``/``"nan"``:
    identical outputs have an infinite PSNR, and strict JSON readers (``jq``) refuse ``Infinity``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _cell(value: float | None, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    text = format(value, fmt)
    return text.replace("-", "+") if float(text) == 0 else text  # no "-0.000"


def format_compare(result: dict[str, Any]) -> str:
    """The comparison as text: machine, peak and work, one row per path, then the auto choice."""
    hd, rows = result["header"], result["rows"]
    peaks = ", ".join(f"{v:.0f} GFLOP/s {k}" for k, v in sorted(hd["conv_peak_gflops"].items()))
    work = f"{hd['gflop_per_pass']:.2f} GFLOP per pass (convs)" if hd["gflop_per_pass"] else "not counted"
    lines = [
        f"cpu        : {hd['cpu']}",
        f"device     : {hd['device']}, {hd['threads']} torch threads, {hd['repeats']} interleaved rounds",
        f"conv peak  : {peaks} (channels_last 64->64 3x3 on {'x'.join(map(str, measure.PEAK_SHAPE))}, "
        "timed in the same rounds)",
        f"model      : {hd['card']} x{hd['scale']}, input {hd['size'][0]}x{hd['size'][1]}, {work}",
    ]
    cols = (
        "path",
        "runtime",
        "dtype",
        "median",
        "vs fp32",
        "GFLOP/s",
        "of peak",
        "PSNR vs fp32",
        "dPSNR vs GT",
    )
    body = []
    for r in rows:
        if "median_ms" not in r:
            body.append((r["path"], r["runtime"], r["dtype"], r["note"]))
            continue
        share = r["peak_share"]
        body.append(
            (
                r["path"],
                r["runtime"],
                r["dtype"],
                f"{r['median_ms']:.1f} ms",
                f"{r['speedup']:.2f}x",
                _cell(r["gflops"], ".1f"),
                f"{share * 100:.0f}%" if share is not None else "-",
                "(itself)" if r["path"] == rows[0]["path"] else _cell(r["psnr_vs_fp32"], ".2f") + " dB",
                _cell(r["psnr_change_vs_truth"], "+.3f")
                + (" dB" if r["psnr_change_vs_truth"] is not None else ""),
                r["note"],
            )
        )
    widths = [max(len(c), *(len(b[i]) for b in body if len(b) > 4)) for i, c in enumerate(cols)]
    lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(cols)).rstrip())
    for b in body:
        if len(b) == 4:  # a path that did not run: its reason
            lines.append(
                "  ".join([b[0].ljust(widths[0]), b[1].ljust(widths[1]), b[2].ljust(widths[2]), b[3]])
            )
        else:
            lines.append("  ".join([*(v.ljust(widths[i]) for i, v in enumerate(b[:-1])), b[-1]]).rstrip())
    auto = hd.get("auto")
    if auto:
        times = ", ".join(
            f"{k} {v:.1f} ms" for k, v in sorted(auto["times_ms"].items(), key=lambda kv: kv[1])
        )
        lines.append(
            f"auto       : {auto['winner']} for {auto['model']} at {auto['dtype']}, size bucket {auto['bucket']} "
            f"({times}), written to {auto['table']}"
        )
    else:
        lines.append("auto       : nothing recorded")
    return "\n".join(lines)
