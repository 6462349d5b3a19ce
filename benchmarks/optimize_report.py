"""Measure every optimize method on EDSR-baseline ×2 and DCGAN, side by side in one process, for docs/optimize.md.

    .venv/bin/python benchmarks/optimize_report.py [--weights W] [--size 256] [--repeats 5] [--quick]
    .venv/bin/python benchmarks/optimize_report.py --model dcgan [--batch 64]

Each variant is prepared on a fresh copy of the model, then all are timed round-robin (one call
each per round) so the shared CPU's background load hits them alike; the speed-ups are ratios of
medians from the same rounds. Quality is PSNR-Y (border cropped by the scale) on centre crops of
the held-out scikit-image photos, HR crop -> bicubic downscale -> model. Without ``--weights`` the
bundled EDSR-baseline ×2 weights are used when installed; otherwise random weights of the right
shape (BasicSR layout, seed 0) stand in and the table says so: latency and size are then real,
PSNR deltas are not meaningful.

DCGAN (the bundled digits generator) is timed on a batch of ``--batch`` latents; its quality is the
digit-classifier Inception Score of 1,000 samples (seeds 0–999, as scripts/eval_gan_digits.py) and the
fidelity PSNR of the variant's images to the original's on the same latents.

Writes benchmarks/results/optimize_report[_dcgan].{json,md} and replaces the table in docs/optimize.md
between the ``optimize-report`` (or ``optimize-report-dcgan``) markers.
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
MARKERS = {
    "edsr-baseline": ("<!-- optimize-report:start -->", "<!-- optimize-report:end -->"),
    "dcgan": ("<!-- optimize-report-dcgan:start -->", "<!-- optimize-report-dcgan:end -->"),
}

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

VARIANTS_DCGAN: list[tuple[str, str | None, dict[str, str]]] = [
    ("accelerate", "accelerate", {}),
    ("quantize-int8 ONNX Runtime QDQ", "quantize-int8", {"backend": "onnxruntime"}),
    ("quantize-int8 PT2E+Inductor", "quantize-int8", {"backend": "pt2e"}),
    ("prune-structured 25%", "prune-structured", {"amount": "0.25"}),
    (
        "prune-structured 25% + fine-tune",
        "prune-structured",
        {
            "amount": "0.25",
            "finetune_steps": "FT",
            "lr": "1e-3",
            "finetune_pool": "2048",
            "finetune_batch": "64",
        },
    ),
    ("prune-structured 50%", "prune-structured", {"amount": "0.5"}),
    (
        "prune-structured 50% + fine-tune",
        "prune-structured",
        {
            "amount": "0.5",
            "finetune_steps": "FT",
            "lr": "1e-3",
            "finetune_pool": "2048",
            "finetune_batch": "64",
        },
    ),
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
    ap.add_argument("--model", choices=sorted(MARKERS), default="edsr-baseline")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--weights-note", default=None, help="how to describe --weights in the table")
    ap.add_argument("--size", type=int, default=256, help="EDSR input side")
    ap.add_argument("--batch", type=int, default=64, help="DCGAN latents per timed call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--finetune-steps", type=int, default=None, help="default 1000 (EDSR), 1500 (DCGAN)")
    ap.add_argument("--only", default=None, help="comma-separated variant labels to run (plus fp32 eager)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for checking the script itself")
    args = ap.parse_args()
    if args.finetune_steps is None:
        args.finetune_steps = 1000 if args.model == "edsr-baseline" else 1500

    from genedit_compress._wrap import count_params
    from genedit_compress.bench import prepare, time_round_robin
    from genedit_compress.measure import stored_bytes

    tmp = Path(tempfile.mkdtemp(prefix="optimize-report-"))
    setup = _setup_edsr(args, tmp) if args.model == "edsr-baseline" else _setup_dcgan(args)
    load_kw = {"weights": setup["weights"], "scale": setup["scale"], "device": "cpu", "dtype": "fp32"}
    wanted = set(args.only.split(",")) if args.only else None
    repeats = 1 if args.quick else args.repeats
    baseline = prepare(args.model, None, x=setup["x"], params={}, workdir=tmp, **load_kw)
    baseline.name = "fp32 eager"
    quality = setup["quality"]
    ref = quality(baseline.forward, baseline.model, None)
    base_outputs = ref.pop("_outputs", None)
    rows = [
        {
            "variant": "fp32 eager",
            "params": count_params(baseline.model.module),
            "stored_mb": stored_bytes(baseline.model.module) / 1e6,
            "latency_ms": None,
            "speedup": 1.0,
            **ref,
            "quality_delta": 0.0 if ref.get("quality") is not None else None,
            "prepare_s": 0.0,
            "details": {},
        }
    ]
    for label, method, params in setup["variants"]:
        if wanted is not None and label not in wanted:
            continue
        ft = str(args.finetune_steps if not args.quick else 3)
        p = {**setup["common"], **{k: (ft if v == "FT" else v) for k, v in params.items()}}
        if method == "depthwise-separable":
            p["calib_count"] = "8"
        started = time.perf_counter()
        print(f"preparing {label} ...", file=sys.stderr, flush=True)
        workdir = tmp / label.replace(" ", "_").replace("/", "_")
        v = prepare(args.model, method, x=setup["x"], params=p, workdir=workdir, **load_kw)
        v.name = label
        prep_s = time.perf_counter() - started
        # Side by side: this variant and fp32 eager alternate, call for call, in the same rounds.
        times = time_round_robin([baseline, v], repeats, warmup=1)
        base_ms = statistics.median(times["fp32 eager"]) * 1e3
        ms = statistics.median(times[label]) * 1e3
        q = quality(v.forward, v.model, base_outputs)
        q.pop("_outputs", None)
        o = v.outcome
        params_n = (
            o.params_after if o is not None and o.params_after is not None else count_params(v.model.module)
        )
        size_b = (
            o.stored_bytes_after
            if o is not None and o.stored_bytes_after is not None
            else stored_bytes(v.model.module)
        )
        value, ref_value = q.get("quality"), ref.get("quality")
        rows.append(
            {
                "variant": label,
                "params": params_n,
                "stored_mb": size_b / 1e6,
                "latency_ms": ms,
                "baseline_ms": base_ms,
                "speedup": base_ms / ms,
                **q,
                "quality_delta": (value - ref_value)
                if (value is not None and ref_value is not None)
                else None,
                "prepare_s": prep_s,
                "details": {k: val for k, val in v.details.items() if not isinstance(val, dict)}
                | ({"finetune": v.details["finetune"]} if "finetune" in v.details else {}),
            }
        )
        print(
            f"  {label}: {ms:.1f} ms vs {base_ms:.1f} ms -> x{base_ms / ms:.2f}; {q}",
            file=sys.stderr,
            flush=True,
        )
        _write(args, setup, repeats, rows)
        del v
    table = _write(args, setup, repeats, rows)
    start, end = MARKERS[args.model]
    if not args.quick and wanted is None and DOC.is_file():
        text = DOC.read_text()
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            DOC.write_text(f"{head}{start}\n{table}\n{end}{tail}")
    print(table)


def _setup_edsr(args, tmp: Path) -> dict:
    from genedit_compress._wrap import example_input
    from genedit_compress.evaldata import eval_set, score

    from genedit_core.api import get_card, load

    size = 48 if args.quick else args.size
    card = get_card("edsr-baseline")
    weights, weights_note = args.weights, args.weights_note
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
    base = load("edsr-baseline", weights=weights, scale=2, device="cpu", dtype="fp32")
    evaluation = eval_set(base, None, 48 if args.quick else 128, 5)

    def quality(forward, model, reference) -> dict:
        if evaluation is None:
            return {"quality": None}
        return {"quality": score(forward, evaluation, model).get("psnr_y")}

    return {
        "weights": weights,
        "weights_note": weights_note or weights,
        "scale": 2,
        "x": example_input(base, size, size),
        "input": f"{size}×{size} image",
        "variants": VARIANTS,
        "common": {
            "calib_size": "32",
            "calib_count": "8" if args.quick else "16",
            "finetune_pool": "8" if args.quick else "512",
            "finetune_batch": "4" if args.quick else "8",
            "eval": "none",
        },
        "quality": quality,
        "quality_name": "PSNR-Y (dB)",
        "eval": f"centre {48 if args.quick else 128}² crops of the 5 held-out scikit-image photos "
        "(astronaut, camera, chelsea, coffee, coins)",
    }


def _setup_dcgan(args) -> dict:
    import numpy as np
    from genedit_compress._wrap import example_input
    from genedit_gan.evaluation import get_extractor

    from genedit_core.metrics import psnr
    from genedit_core.metrics_generative import inception_score

    weights = args.weights or "digits"
    base = genedit_load("dcgan", weights)
    n = 100 if args.quick else 1000
    z = torch.stack(
        [torch.randn(base.latent_shape, generator=torch.Generator().manual_seed(i)) for i in range(n)]
    )
    extractor = get_extractor("digits")

    def quality(forward, model, reference) -> dict:
        with torch.inference_mode():
            images = torch.cat(
                [forward(z[i : i + 100].to(model.device)).float().cpu() for i in range(0, n, 100)]
            )
        _, probs = extractor(images.clamp(0, 1))
        out = {"quality": inception_score(np.asarray(probs))[0], "_outputs": images}
        if reference is not None:
            vals = [
                psnr(a.permute(1, 2, 0).numpy() * 255, b.permute(1, 2, 0).numpy() * 255)
                for a, b in zip(images, reference)
            ]
            out["fidelity_psnr"] = float(np.mean(vals))
        return out

    return {
        "weights": weights,
        "weights_note": args.weights_note or f"bundled DCGAN digits weights ('{weights}')",
        "scale": None,
        "x": example_input(base, 1, 1, batch=8 if args.quick else args.batch),
        "input": f"batch of {8 if args.quick else args.batch} latents",
        "variants": VARIANTS_DCGAN,
        "common": {"calib_count": "16", "eval": "none"},
        "quality": quality,
        "quality_name": "IS (digit classifier)",
        "eval": f"{n} samples (seeds 0–{n - 1}); IS from the bundled digit classifier, real held-out digits score 9.65",
    }


def genedit_load(name: str, weights: str):
    from genedit_core.api import load

    return load(name, weights=weights, device="cpu", dtype="fp32")


def _write(args, setup: dict, repeats: int, rows: list[dict]) -> str:
    meta = {
        "model": "edsr-baseline x2" if args.model == "edsr-baseline" else args.model,
        "weights": setup["weights_note"],
        "input": setup["input"],
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "repeats": repeats,
        "eval": setup["eval"],
        "quality_name": setup["quality_name"],
        "finetune_steps": args.finetune_steps,
        "load_average": _loadavg(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = ("" if args.model == "edsr-baseline" else "_dcgan") + ("_quick" if args.quick else "")
    previous = RESULTS / f"optimize_report{suffix}.json"
    if args.only and previous.is_file():  # a partial rerun replaces its own rows and keeps the others
        old = json.loads(previous.read_text())["rows"]
        fresh = {r["variant"]: r for r in rows}
        kept = [fresh.pop(r["variant"], r) for r in old]
        rows = kept + [r for r in rows if r["variant"] in fresh]
    (RESULTS / f"optimize_report{suffix}.json").write_text(
        json.dumps({"meta": meta, "rows": rows}, indent=2, default=str) + "\n"
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
    qname = meta["quality_name"]
    fidelity = any(r.get("fidelity_psnr") is not None for r in rows)
    lines = [
        f"Model: {meta['model']}; weights: {meta['weights']}.",
        f"Input: {meta['input']}, {meta['threads']} CPU threads, torch {meta['torch']}, each variant timed "
        f"alternately with fp32 eager, {meta['repeats']} rounds (medians; the speed-up is the ratio within that "
        f"pairing); load average at the end {meta['load_average']}.",
        f"{qname} on {meta['eval']}.",
        "",
        f"| variant | params | size (MB) | latency (ms) | fp32 eager, same rounds (ms) | speed-up | {qname} | Δ |"
        + (" fidelity PSNR (dB) |" if fidelity else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if fidelity else ""),
    ]
    for r in rows:
        q = r.get("quality", r.get("psnr_y"))
        d = r.get("quality_delta", r.get("psnr_delta"))
        qs = f"{q:.3f}" if q is not None else "-"
        ds = f"{d:+.3f}" if d is not None else "-"
        lat = f"{r['latency_ms']:.1f}" if r.get("baseline_ms") else "-"
        paired = f"{r['baseline_ms']:.1f}" if r.get("baseline_ms") else "-"
        line = f"| {r['variant']} | {r['params']:,} | {r['stored_mb']:.2f} | {lat} | {paired} | ×{r['speedup']:.2f} | {qs} | {ds} |"
        if fidelity:
            f = r.get("fidelity_psnr")
            line += f" {f:.1f} |" if f is not None else " - |"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    main()
