"""Measure every optimize method on EDSR-baseline ×2, side by side in one process, for docs/optimize.md.

    .venv/bin/python benchmarks/optimize_report.py [--weights W] [--size 256] [--repeats 5] [--quick]

Each variant is prepared on a fresh copy of the model, then all are timed round-robin (one call
each per round) so the shared CPU's background load hits them alike; the speed-ups are ratios of
medians from the same rounds. Quality is PSNR-Y (border cropped by the scale) on centre crops of
the held-out scikit-image photos, HR crop -> bicubic downscale -> model. Without ``--weights`` the
bundled EDSR-baseline ×2 weights are used when installed; otherwise random weights of the right
shape (BasicSR layout, seed 0) stand in and the table says so: latency and size are then real,
PSNR deltas are not meaningful.

Writes benchmarks/results/optimize_report.{json,md} and replaces the table in docs/optimize.md
between the ``optimize-report`` markers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "optimize.md"
START, END = "<!-- optimize-report:start -->", "<!-- optimize-report:end -->"

VARIANTS: list[tuple[str, str | None, dict[str, str]]] = [
    ("accelerate (bucket 64)", "accelerate", {"shapes": "bucket"}),
    ("quantize-int8 PT2E+Inductor", "quantize-int8", {"backend": "pt2e"}),
    ("prune-structured 50%", "prune-structured", {"amount": "0.5"}),
    (
        "prune-structured 50% + fine-tune",
        "prune-structured",
        {"amount": "0.5", "finetune_steps": "FT", "lr": "5e-4"},
    ),
    ("prune-structured 25%", "prune-structured", {"amount": "0.25"}),
    (
        "prune-structured 25% + fine-tune",
        "prune-structured",
        {"amount": "0.25", "finetune_steps": "FT", "lr": "5e-4"},
    ),
    ("quantize-int8 ONNX Runtime QDQ", "quantize-int8", {"backend": "onnxruntime"}),
    ("accelerate (dynamic=True)", "accelerate", {"shapes": "dynamic"}),
    ("depthwise-separable", "depthwise-separable", {}),
]


def random_edsr_baseline(path: Path, nf: int = 64, nb: int = 16, scale: int = 2) -> Path:
    """EDSR-baseline-shaped random weights in BasicSR layout (kaiming-like, scaled for a stable residual)."""
    g = torch.Generator().manual_seed(0)

    def conv(cout: int, cin: int, gain: float = 1.0) -> dict[str, torch.Tensor]:
        std = gain * (2.0 / (cin * 9)) ** 0.5
        return {"weight": torch.randn(cout, cin, 3, 3, generator=g) * std, "bias": torch.zeros(cout)}

    sd: dict[str, torch.Tensor] = {}

    def put(name: str, p: dict[str, torch.Tensor]) -> None:
        sd.update({f"{name}.{k}": v for k, v in p.items()})

    put("conv_first", conv(nf, 3))
    for i in range(nb):
        put(f"body.{i}.conv1", conv(nf, nf))
        put(f"body.{i}.conv2", conv(nf, nf, 0.1))
    put("conv_after_body", conv(nf, nf, 0.1))
    put("upsample.0", conv(nf * scale * scale, nf))
    put("conv_last", conv(3, nf, 0.1))
    from safetensors.torch import save_file

    save_file(sd, str(path))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--weights-note", default=None, help="how to describe --weights in the table")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--finetune-steps", type=int, default=60)
    ap.add_argument("--only", default=None, help="comma-separated variant labels to run (plus fp32 eager)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for checking the script itself")
    args = ap.parse_args()

    from genedit_compress._wrap import count_params, example_input
    from genedit_compress.bench import prepare, time_round_robin
    from genedit_compress.evaldata import eval_set, score
    from genedit_compress.loading import load_model
    from genedit_compress.measure import stored_bytes

    from genedit_core.api import get_card

    size = 48 if args.quick else args.size
    card = get_card("edsr-baseline")
    weights, weights_note = args.weights, args.weights_note
    tmp = Path(tempfile.mkdtemp(prefix="optimize-report-"))
    if weights is None:
        bundled = card.bundled_variant
        if bundled is not None and bundled.file_for(2) is not None:
            weights, weights_note = bundled.name, f"bundled EDSR-baseline ×2 weights ({bundled.description})"
        else:
            weights = str(random_edsr_baseline(tmp / "edsr_baseline_x2_random.safetensors"))
            weights_note = (
                "RANDOM weights of EDSR-baseline ×2 shape (bundled weights not installed yet): latency, "
                "parameters and size are real; PSNR values are not meaningful"
            )
    base = load_model("edsr-baseline", weights=weights, scale=2, device="cpu", dtype="fp32")
    x = example_input(base, size, size)
    evaluation = eval_set(base, None, 48 if args.quick else 128, 5)
    common = {"calib_size": "32", "calib_count": "8" if args.quick else "16", "eval": "none"}
    wanted = set(args.only.split(",")) if args.only else None
    repeats = 1 if args.quick else args.repeats
    baseline = prepare(
        "edsr-baseline",
        None,
        weights=weights,
        scale=2,
        device="cpu",
        dtype="fp32",
        x=x,
        params={},
        workdir=tmp,
    )
    baseline.name = "fp32 eager"
    ref = (
        score(baseline.forward, evaluation, baseline.model).get("psnr_y") if evaluation is not None else None
    )
    rows = [
        {
            "variant": "fp32 eager",
            "params": count_params(baseline.model.module),
            "stored_mb": stored_bytes(baseline.model.module) / 1e6,
            "latency_ms": None,
            "speedup": 1.0,
            "psnr_y": ref,
            "psnr_delta": 0.0 if ref is not None else None,
            "prepare_s": 0.0,
            "details": {},
        }
    ]
    for label, method, params in VARIANTS:
        if wanted is not None and label not in wanted:
            continue
        p = {
            **common,
            **{
                k: (str(args.finetune_steps if not args.quick else 3) if v == "FT" else v)
                for k, v in params.items()
            },
        }
        if method == "depthwise-separable":
            p["calib_count"] = "8"
        started = time.perf_counter()
        print(f"preparing {label} ...", file=sys.stderr, flush=True)
        v = prepare(
            "edsr-baseline",
            method,
            weights=weights,
            scale=2,
            device="cpu",
            dtype="fp32",
            x=x,
            params=p,
            workdir=tmp / label.replace(" ", "_").replace("/", "_"),
        )
        v.name = label
        prep_s = time.perf_counter() - started
        # Side by side: this variant and fp32 eager alternate, call for call, in the same rounds.
        times = time_round_robin([baseline, v], repeats, warmup=1)
        base_ms = statistics.median(times["fp32 eager"]) * 1e3
        ms = statistics.median(times[label]) * 1e3
        q = score(v.forward, evaluation, v.model) if evaluation is not None else {}
        o = v.outcome
        params_n = (
            o.params_after if o is not None and o.params_after is not None else count_params(v.model.module)
        )
        size_b = (
            o.stored_bytes_after
            if o is not None and o.stored_bytes_after is not None
            else stored_bytes(v.model.module)
        )
        psnr = q.get("psnr_y")
        rows.append(
            {
                "variant": label,
                "params": params_n,
                "stored_mb": size_b / 1e6,
                "latency_ms": ms,
                "baseline_ms": base_ms,
                "speedup": base_ms / ms,
                "psnr_y": psnr,
                "psnr_delta": (psnr - ref) if (psnr is not None and ref is not None) else None,
                "prepare_s": prep_s,
                "details": {k: val for k, val in v.details.items() if not isinstance(val, dict)},
            }
        )
        print(
            f"  {label}: {ms:.0f} ms vs {base_ms:.0f} ms -> x{base_ms / ms:.2f}", file=sys.stderr, flush=True
        )
        _write(args, weights_note or weights, size, repeats, rows)
        del v
    table = _write(args, weights_note or weights, size, repeats, rows)
    if not args.quick and wanted is None and DOC.is_file():
        text = DOC.read_text()
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{START}\n{table}\n{END}{tail}")
    print(table)


def _write(args, weights: str, size: int, repeats: int, rows: list[dict]) -> str:
    meta = {
        "model": "edsr-baseline x2",
        "weights": weights,
        "input": [size, size],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": repeats,
        "eval": f"centre {48 if args.quick else 128}² crops of the 5 held-out scikit-image photos "
        "(astronaut, camera, chelsea, coffee, coins)",
        "finetune_steps": args.finetune_steps,
        "load_average": _loadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "_quick" if args.quick else ""
    previous = RESULTS / f"optimize_report{suffix}.json"
    if args.only and previous.is_file():  # a partial rerun replaces its own rows and keeps the others
        old = json.loads(previous.read_text())["rows"]
        fresh = {r["variant"]: r for r in rows}
        kept = [fresh.pop(r["variant"], r) for r in old]
        rows = kept + [r for r in rows if r["variant"] in fresh]
    (RESULTS / f"optimize_report{suffix}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n"
    )
    table = markdown(meta, rows)
    (RESULTS / f"optimize_report{suffix}.md").write_text(table + "\n")
    return table


def _loadavg() -> str:
    try:
        return open("/proc/loadavg").read().split(" ")[:3].__str__()
    except OSError:
        return "?"


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = [
        f"Model: {meta['model']}; weights: {meta['weights']}.",
        f"Input {meta['input'][0]}×{meta['input'][1]}, {meta['threads']} CPU threads, torch {meta['torch']}, "
        f"each variant timed alternately with fp32 eager, {meta['repeats']} rounds (medians; the speed-up is the ratio "
        f"within that pairing); load average at the end {meta['load_average']}.",
        f"PSNR-Y on {meta['eval']}.",
        "",
        "| variant | params | size (MB) | latency (ms) | fp32 eager, same rounds (ms) | speed-up | PSNR-Y (dB) "
        "| ΔPSNR (dB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        psnr = f"{r['psnr_y']:.3f}" if r["psnr_y"] is not None else "-"
        delta = f"{r['psnr_delta']:+.3f}" if r["psnr_delta"] is not None else "-"
        lat = f"{r['latency_ms']:.0f}" if r.get("baseline_ms") else "-"
        paired = f"{r['baseline_ms']:.0f}" if r.get("baseline_ms") else "-"
        lines.append(
            f"| {r['variant']} | {r['params']:,} | {r['stored_mb']:.2f} | {lat} | {paired} | "
            f"×{r['speedup']:.2f} | {psnr} | {delta} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
