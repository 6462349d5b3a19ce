"""Colourisation report: PSNR and colourfulness against the number of hints (0, 1, 5, 20) on
held-out drawings, and time per 512² drawing, for paints (bundled weights or ``--weights``) and
the weight-free models and baselines.

    .venv/bin/python benchmarks/colorize_report.py [--data builtin:clipart:heldout] [--weights runs/paints]
        [--max-side 128] [--limit N] [--json PATH]

Pairs come from :func:`genedit_colorize.training.eval_pairs`, as in training's validation and
``genedit eval colorize``: for ``builtin:clipart:heldout`` (the default) each held-out Open Clip Art
drawing is rendered at ``--max-side`` with its own line art (fills stripped); for photos
(``builtin:skimage-photos:heldout``, a folder) a centre crop is the target and its XDoG drawing the
input. ``n`` hints are simulated from each target with a seeded generator, the same for every model.
Baselines: ``grey`` fills everything with 0.5 grey (the issue's trivial baseline); ``line-art``
returns the drawing itself (white paper, black lines); ``nearest-hint`` gives every pixel the
colour of its nearest hint (grey without hints), ignoring the lines; ``flat`` is the ``flat``
model; ``levin`` the ``levin`` model (Levin et al. 2004's sparse solve). Colourfulness is Hasler
and Süsstrunk 2003's M (0-255 scale; the targets' own is printed for reference). Time: one run of
each model on one 512×512 drawing with 5 hints on this machine's CPU (paints after one warm-up run).
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


def line_art(line, colours, mask):
    return line.expand(3, -1, -1)


def colourfulness(img: torch.Tensor) -> float:
    """Hasler and Süsstrunk 2003: σ and μ of the opponent channels rg = R-G, yb = (R+G)/2 - B."""
    r, g, b = (img.double() * 255).clamp(0, 255)
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(torch.sqrt(rg.std(unbiased=False) ** 2 + yb.std(unbiased=False) ** 2)
                 + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))  # fmt: skip


def levin(line, colours, mask):
    return torch.from_numpy(
        levin_fill(line[0].double().numpy(), colours.double().numpy(), mask[0].double().numpy())
    ).float()


def save_grid(path: Path, models: dict, data: str, max_side: int, rows: int = 4) -> None:
    """A picture grid, one held-out drawing a row with 5 hints: line art, hints (dots on grey,
    enlarged 3×3), paints, levin, target."""
    from PIL import Image

    tiles = []
    for line, colours, mask, target in eval_pairs(data, max_side, hints=5, limit=4 * rows)[:rows]:
        dots = torch.nn.functional.max_pool2d(mask[None], 3, 1, 1)[0] > 0
        spread = torch.nn.functional.max_pool2d(colours[None] * mask[None], 3, 1, 1)[0]
        shown = torch.where(dots, spread, torch.full_like(colours, 0.85))  # white hints show on grey
        row = [line.expand(3, -1, -1), shown, models["paints"](line, colours, mask).clamp(0, 1),
               models["levin"](line, colours, mask).clamp(0, 1), target]  # fmt: skip
        tiles.append(torch.cat([torch.nn.functional.pad(t, (2, 2, 2, 2), value=1.0) for t in row], dim=2))
    grid = (torch.cat(tiles, dim=1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(grid).save(path)


def time_512(models: dict, data: str) -> dict[str, float]:
    """Seconds each model takes on one 512×512 drawing (the first of ``data``) with 5 hints."""
    line, colours, mask, _ = eval_pairs(data, 512, hints=5, limit=8)[0]
    out = {}
    for name, fn in models.items():
        if name == "paints":
            fn(line, colours, mask)  # warm-up
        t0 = time.perf_counter()
        fn(line, colours, mask)
        out[name] = time.perf_counter() - t0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="builtin:clipart:heldout")
    ap.add_argument("--weights", help="paints weights (a training run folder or file); default: bundled")
    ap.add_argument("--max-side", type=int, default=128)
    ap.add_argument("--limit", type=int, help="only the first N drawings of the split (default: all)")
    ap.add_argument("--json", type=Path)
    ap.add_argument(
        "--grid", type=Path, help="also save a picture grid (line art, hints, paints, levin, target)"
    )
    args = ap.parse_args()
    models = {"grey": grey, "line-art": line_art, "nearest-hint": nearest_hint, "flat": flat, "levin": levin}
    net = genedit_core.load("paints", weights=args.weights, device="cpu").module

    def paints(line, colours, mask):
        with torch.no_grad():
            return net(line[None], colours[None], mask[None])[0]

    models["paints"] = paints
    table: dict[str, dict[str, float]] = {name: {} for name in models}
    colour: dict[str, dict[str, float]] = {name: {} for name in [*models, "target"]}
    t0 = time.perf_counter()
    for n in HINTS:
        pairs = eval_pairs(args.data, args.max_side, hints=n, limit=args.limit)
        colour["target"][str(n)] = float(np.mean([colourfulness(p[3]) for p in pairs]))
        for name, fn in models.items():
            outs = [fn(*p[:3]).clamp(0, 1) for p in pairs]
            table[name][str(n)] = float(
                np.mean([psnr(o.numpy(), p[3].numpy(), data_range=1.0) for o, p in zip(outs, pairs)])
            )
            colour[name][str(n)] = float(np.mean([colourfulness(o) for o in outs]))
    seconds = time_512(models, args.data)
    print(f"{args.data}: {len(pairs)} drawings, {args.max_side}px ({time.perf_counter() - t0:.0f}s)")
    head = "  ".join(f"{n:>3} hints" for n in HINTS)
    print(f"PSNR (dB)      {head}   | colourfulness {head}   | s per 512²")
    for name in [*models, "target"]:
        row = (
            "  ".join(f"{table[name][str(n)]:9.2f}" for n in HINTS)
            if name in table
            else " " * (11 * len(HINTS) - 2)
        )
        crow = "  ".join(f"{colour[name][str(n)]:9.1f}" for n in HINTS)
        sec = f"{seconds[name]:10.3f}" if name in seconds else ""
        print(f"{name:<14} {row}   | {'':<13} {crow}   | {sec}")
    if args.grid:
        save_grid(args.grid, models, args.data, args.max_side)
    if args.json:
        report = {
            **table,
            "colourfulness": colour,
            "seconds_512": seconds,
            "data": args.data,
            "count": len(pairs),
        }
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
