"""Restoration report: denoising PSNR/SSIM at σ 15/25/50 and inpainting PSNR in the hole, on the
held-out photos, for every restoration model with weights, plus times per 512² image.

    .venv/bin/python benchmarks/restore_report.py [--max-side N] [--json PATH] [--only denoise|inpaint] [--sweep]

Denoising follows the DnCNN paper's table: seeded Gaussian noise added to the float image (not
clipped), outputs clipped and rounded to 8 bits, PSNR over RGB of the whole image
(:mod:`genedit_restore.evaluation`, the code ``genedit eval denoise`` runs). Inpainting uses seeded
strokes and boxes covering 10-30 % (``genedit eval inpaint``); the ``coarse-*`` rows are the
inpainting network's own coarse stages alone, with no learned part (its torch biharmonic and
harmonic fills, and their mean, which is what an untrained ``blend`` network outputs), so the table
shows what the learned gate and refinement add. Times are medians of ``--repeats``
runs on one 512×512 crop, as ratios against the fastest classical method of the same task.
Installed variants trained for one σ (``dncnn:photos-s25``, the paper's DnCNN-S) get their own
row, scored at that σ only ("-" in the other columns), beside the default (blind) weights' row.
``--sweep`` instead measures the classical parameters on the *training* photos at σ = 25 (how
NL-means ``h`` and the TV weight were chosen); the held-out photos never choose anything.
``--only`` runs one table; with ``--json`` the other table is kept from the existing file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from genedit_restore import classical
from genedit_restore.evaluation import add_noise, evaluate_denoiser, evaluate_inpainter, reference_images
from genedit_restore.masks import random_mask
from genedit_restore.tasks import fill

import genedit_core
from genedit_core.sdk import list_models

DENOISERS = ("nlmeans", "wavelet", "tv")
INPAINTERS = ("telea", "navier-stokes", "biharmonic")


def _runner(model):
    """``f(x, σ)`` for a loaded denoiser: classical ones take σ, networks run whole-image."""
    if isinstance(model.module, classical.ClassicalDenoiser):
        return lambda x, s: model.module(x, s)
    if "sigma" in model.hyperparameters.get("inputs", ()):  # noise-level-map networks
        return lambda x, s: model.module(x, s / 255.0)
    return lambda x, s: model(x)


def _learned(task: str) -> list[str]:
    """Networks of the restore plugin that have default weights installed."""
    return [
        c.name
        for c in list_models(task)
        if c.plugin == "restore" and c.needs_weights and c.default_variant is not None
    ]


def _fixed_sigma(task: str) -> list[tuple[str, str, float]]:
    """(model, variant, σ) of the installed non-default variants trained for one σ (the config
    says ``sigma``): the paper's DnCNN-S rows beside the blind DnCNN-B, each scored at its own σ."""
    return [
        (c.name, v.name, float(v.config["sigma"]))
        for c in list_models(task)
        if c.plugin == "restore" and c.needs_weights
        for v in c.variants
        if v.name != c.default_variant and isinstance(v.config.get("sigma"), (int, float))
    ]


def _time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        with torch.inference_mode():
            fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def denoise_table(refs, sigmas, repeats: int) -> list[dict]:
    crop = reference_images("builtin:skimage-photos:heldout")[0][1][:, :512, :512]  # astronaut
    noisy = add_noise(crop, 25.0, 0, 0)[None]
    rows = []
    fixed = _fixed_sigma("denoise")
    runs = []
    for name in (*DENOISERS, *_learned("denoise")):  # each fixed-σ row right after its blind one
        runs += [(name, None, sigmas), *((n, v, (s,)) for n, v, s in fixed if n == name and s in sigmas)]
    for name, variant, at in runs:
        model = genedit_core.load(name, weights=variant, device="cpu", dtype="fp32")
        run = _runner(model)
        report = evaluate_denoiser(run, refs, at)
        label = f"{name}:{variant}" if variant else name
        row = {"model": label, "weights": model.weights.origin if model.weights else None}
        for s in at:  # a fixed-σ variant has only its own σ's columns
            row[f"psnr_{s:g}"] = report["summary"][f"psnr_{s:g}"]
            row[f"ssim_{s:g}"] = report["summary"][f"ssim_{s:g}"]
        row["seconds_512"] = _time(lambda run=run: run(noisy, 25.0), repeats)
        rows.append(row)
        print(f"  {label}: " + ", ".join(f"σ{s:g} {row[f'psnr_{s:g}']:.2f}" for s in at), flush=True)
    fastest = min(r["seconds_512"] for r in rows if r["model"] in DENOISERS)
    for r in rows:
        r["time_ratio"] = r["seconds_512"] / fastest
    return rows


def coarse_stage(kind: str):
    """``f(x, hole)``: one of the gated U-Net's coarse stages alone (no learned part)."""
    from genedit_restore._arch.coarse_fill import biharmonic_fill, harmonic_fill

    def run(x: torch.Tensor, hole: np.ndarray) -> torch.Tensor:
        mask = torch.from_numpy(hole)[None, None].float()
        fills = {"biharmonic": biharmonic_fill, "harmonic": harmonic_fill}
        if kind == "mean":
            return (0.5 * (biharmonic_fill(x, mask) + harmonic_fill(x, mask))).clamp(0, 1)
        return fills[kind](x, mask).clamp(0, 1)

    return run


COARSE_ROWS = {f"coarse-{kind}": kind for kind in ("biharmonic", "harmonic", "mean")}


def inpaint_table(refs, repeats: int) -> list[dict]:
    crop = reference_images("builtin:skimage-photos:heldout")[0][1][:, :512, :512]
    hole = random_mask(512, 512, np.random.default_rng(0), (0.1, 0.3))
    damaged = crop.clone()
    damaged[:, torch.from_numpy(hole)] = 0.5
    rows = []
    for name in (*INPAINTERS, *COARSE_ROWS, *_learned("inpaint")):
        if name in COARSE_ROWS:
            run = coarse_stage(COARSE_ROWS[name])
        else:
            model = genedit_core.load(name, device="cpu", dtype="fp32")
            run = lambda x, h, m=model: fill(m, x, h)  # noqa: E731
        report = evaluate_inpainter(run, refs)
        row = {"model": name, **{k: report["summary"][k] for k in ("hole_pct", "psnr_hole", "psnr", "ssim")}}
        row["seconds_512"] = _time(lambda run=run: run(damaged[None], hole), repeats)
        rows.append(row)
        print(f"  {name}: hole PSNR {row['psnr_hole']:.2f}", flush=True)
    fastest = min(r["seconds_512"] for r in rows if r["model"] in INPAINTERS)
    for r in rows:
        r["time_ratio"] = r["seconds_512"] / fastest
    return rows


def sweep(max_side: int) -> None:
    refs = reference_images("builtin:skimage-photos", max_side)
    for label, attr, values in (
        ("NL-means h/σ", "NLM_H", (0.4, 0.5, 0.6, 0.8)),
        ("TV weight/σ", "TV_WEIGHT", (0.7, 0.9, 1.1)),
    ):
        method = "nlmeans" if attr == "NLM_H" else "tv"
        keep = getattr(classical, attr)
        for v in values:
            setattr(classical, attr, v)
            den = classical.ClassicalDenoiser(method)
            psnr25 = evaluate_denoiser(lambda x, s, d=den: d(x, s), refs, (25.0,))["summary"]["psnr_25"]
            print(f"{label} = {v}: {psnr25:.2f} dB (training photos, σ 25)", flush=True)
        setattr(classical, attr, keep)


def _markdown(den: list[dict], inp: list[dict], sigmas) -> str:
    head = "| model | " + " | ".join(f"σ={s:g}" for s in sigmas) + " | time / 512² (× fastest) |"
    lines = [head, "|---" * (len(sigmas) + 2) + "|"]
    for r in den:
        cells = " | ".join(
            f"{r[f'psnr_{s:g}']:.2f} / {r[f'ssim_{s:g}']:.3f}" if f"psnr_{s:g}" in r else "-" for s in sigmas
        )
        lines.append(f"| {r['model']} | {cells} | {r['seconds_512']:.2f} s ({r['time_ratio']:.1f}×) |")
    lines += [
        "",
        "| model | hole % | PSNR in hole | PSNR | SSIM | time / 512² (× fastest) |",
        "|---|---|---|---|---|---|",
    ]
    for r in inp:
        lines.append(
            f"| {r['model']} | {r['hole_pct']:.1f} | {r['psnr_hole']:.2f} | {r['psnr']:.2f} | {r['ssim']:.3f} | "
            f"{r['seconds_512']:.2f} s ({r['time_ratio']:.1f}×) |"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="builtin:skimage-photos:heldout")
    ap.add_argument("--sigmas", default="15,25,50")
    ap.add_argument("--max-side", type=int, default=None, help="centre-crop references (quick runs)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--only", choices=("denoise", "inpaint"), default=None, help="one table only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.sweep:
        sweep(args.max_side or 192)
        return 0
    sigmas = tuple(float(s) for s in args.sigmas.split(","))
    refs = reference_images(args.data, args.max_side)
    den = inp = []
    if args.only != "inpaint":
        print(f"denoising on {args.data} ({len(refs)} images):", flush=True)
        den = denoise_table(refs, sigmas, args.repeats)
    if args.only != "denoise":
        print("inpainting:", flush=True)
        inp = inpaint_table(refs, args.repeats)
    print()
    print(_markdown(den, inp, sigmas))
    if args.json:
        result = {"data": args.data, "sigmas": sigmas, "denoise": den, "inpaint": inp,
                  "date": time.strftime("%Y-%m-%d"), "threads": args.threads}  # fmt: skip
        if args.only:
            result = _merged(args.json, args.only, result)
        args.json.write_text(json.dumps(result, indent=2))
    return 0


def _merged(path: Path, only: str, result: dict) -> dict:
    """``result`` with the other table kept from an existing ``path`` (same data): a rerun of one
    table must not erase the other's numbers. Each table carries the date and threads of its own run."""
    result[f"{only}_date"], result[f"{only}_threads"] = result["date"], result["threads"]
    if not path.is_file():
        return result
    old = json.loads(path.read_text())
    if old.get("data") != result["data"]:
        return result
    other = "inpaint" if only == "denoise" else "denoise"
    result[other] = old.get(other, [])
    result[f"{other}_date"] = old.get(f"{other}_date", old.get("date"))
    result[f"{other}_threads"] = old.get(f"{other}_threads", old.get("threads"))
    return result


if __name__ == "__main__":
    raise SystemExit(main())
