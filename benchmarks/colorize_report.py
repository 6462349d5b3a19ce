"""Colourisation report: PSNR against the number of hints (0, 1, 5, 20) on held-out photos, for
paints (bundled weights or ``--weights``) and three weight-free baselines.

    .venv/bin/python benchmarks/colorize_report.py [--weights runs/paints] [--max-side 128] [--json PATH]

Pairs are made as in training: each held-out photo (builtin:skimage-photos:heldout, centre crop of
``--max-side``) is the target, its XDoG drawing the input, and ``n`` hints are simulated from it
with a seeded generator (the same hints for every model). Baselines: ``grey`` fills everything with
0.5 grey (the issue's trivial baseline); ``nearest-hint`` gives every pixel the colour of its nearest
hint (grey without hints), ignoring the lines; ``flat`` is the ``flat`` model (each region enclosed
by lines takes its hints' mean colour, the rest paper white); ``levin`` is the ``levin`` model
(Levin et al. 2004's sparse solve).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from genedit_colorize.flat import flat_fill
from genedit_colorize.levin import levin_fill
from genedit_colorize.training import eval_pairs
from scipy import ndimage

import genedit_core
from genedit_core.sdk import psnr

HINTS = (0, 1, 5, 20)


def grey(line, colours, mask):
    return torch.full_like(colours, 0.5)


def nearest_hint(line, colours, mask):
    m = mask[0].numpy() > 0.5
    if not m.any():
        return torch.full_like(colours, 0.5)
    _, (iy, ix) = ndimage.distance_transform_edt(~m, return_indices=True)
    return colours[:, iy, ix]


def flat(line, colours, mask):
    return torch.from_numpy(
        flat_fill(line[0].double().numpy(), colours.double().numpy(), mask[0].double().numpy())
    ).float()


def levin(line, colours, mask):
    return torch.from_numpy(
        levin_fill(line[0].double().numpy(), colours.double().numpy(), mask[0].double().numpy())
    ).float()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", help="paints weights (a training run folder or file); default: bundled")
    ap.add_argument("--max-side", type=int, default=128)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    models = {"grey": grey, "nearest-hint": nearest_hint, "flat": flat, "levin": levin}
    net = genedit_core.load("paints", weights=args.weights, device="cpu").module

    def paints(line, colours, mask):
        with torch.no_grad():
            return net(line[None], colours[None], mask[None])[0]

    models["paints"] = paints
    table: dict[str, dict[str, float]] = {name: {} for name in models}
    t0 = time.perf_counter()
    for n in HINTS:
        pairs = eval_pairs("builtin:skimage-photos:heldout", args.max_side, hints=n)
        for name, fn in models.items():
            scores = [psnr(fn(*p[:3]).numpy(), p[3].numpy(), data_range=1.0) for p in pairs]
            table[name][str(n)] = float(np.mean(scores))
    print(
        f"PSNR (dB) on {len(pairs)} held-out photos, {args.max_side}px crops ({time.perf_counter() - t0:.0f}s)"
    )
    print("model          " + "  ".join(f"{n:>3} hints" for n in HINTS))
    for name, row in table.items():
        print(f"{name:<14} " + "  ".join(f"{row[str(n)]:9.2f}" for n in HINTS))
    if args.json:
        args.json.write_text(json.dumps(table, indent=1) + "\n")


if __name__ == "__main__":
    main()
