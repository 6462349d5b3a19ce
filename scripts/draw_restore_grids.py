"""Pictures for the restoration model cards (docs/models/img/), from the held-out photos.

    .venv/bin/python scripts/draw_restore_grids.py [--only inpaint|denoise|cat-mask]

* ``restore-inpaint.png``: a 192×192 crop of chelsea with a seeded stroke-and-box mask (10-30 %),
  one row per inpainter (the network's last, when its weights are installed): damaged input (hole in grey), mask, result, original.
* ``restore-denoise.png``: a 160×160 crop of astronaut at σ = 25: noisy, then each denoiser with
  default weights, then the original.
* ``cat_mask.png``: a hole mask for examples/cat.png, used by the docs' ``--mask`` example.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from genedit_restore.evaluation import add_noise, reference_images
from genedit_restore.masks import random_mask
from genedit_restore.tasks import fill
from PIL import Image, ImageDraw

import genedit_core
from genedit_core.sdk import list_models, make_grid

OUT = Path(__file__).resolve().parents[1] / "docs" / "models" / "img"


def _save(grid: np.ndarray, name: str) -> None:
    Image.fromarray(np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(OUT / name, optimize=True)
    print(f"wrote docs/models/img/{name}")


def inpaint_grid() -> None:
    refs = dict(reference_images("builtin:skimage-photos:heldout"))
    clean = refs["chelsea"][:, 60:252, 120:312]
    hole = random_mask(192, 192, np.random.default_rng(7), (0.1, 0.3))
    damaged = clean.clone()
    damaged[:, torch.from_numpy(hole)] = 0.5
    mask = torch.from_numpy(hole).float().expand(3, -1, -1)
    tiles = []
    learned = [
        c.name
        for c in list_models("inpaint")
        if c.plugin == "restore" and c.needs_weights and c.default_variant
    ]
    for name in ("telea", "navier-stokes", "biharmonic", *learned):
        model = genedit_core.load(name, device="cpu", dtype="fp32")
        out = fill(model, damaged[None], hole)[0]
        tiles += [damaged, mask, out, clean]
    _save(make_grid(torch.stack(tiles), cols=4), "restore-inpaint.png")


def denoise_grid() -> None:
    clean = reference_images("builtin:skimage-photos:heldout")[0][1][:, 30:190, 180:340]
    noisy = add_noise(clean, 25.0, 0, 0)
    tiles = [noisy.clamp(0, 1)]
    names = ["nlmeans", "wavelet", "tv"] + [
        c.name
        for c in list_models("denoise")
        if c.plugin == "restore" and c.needs_weights and c.default_variant
    ]
    for name in names:
        model = genedit_core.load(name, device="cpu", dtype="fp32")
        with torch.inference_mode():
            if name in ("nlmeans", "wavelet", "tv"):
                out = model.module(noisy[None], 25.0)[0]
            elif name == "ffdnet":
                out = model.module(noisy[None], 25 / 255)[0]
            else:
                out = model(noisy[None])[0]
        tiles.append(out.clamp(0, 1))
        print(f"  {name}")
    tiles.append(clean)
    _save(make_grid(torch.stack(tiles), cols=len(tiles)), "restore-denoise.png")
    print("columns: noisy, " + ", ".join(names) + ", original")


def cat_mask() -> None:
    with Image.open(Path(__file__).resolve().parents[1] / "examples" / "cat.png") as im:
        w, h = im.size
    mask = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(mask)
    draw.line([(20, 30), (90, 60), (150, 40)], fill=255, width=6)
    draw.rectangle([160, 100, 190, 125], fill=255)
    mask.save(OUT / "cat_mask.png", optimize=True)
    print("wrote docs/models/img/cat_mask.png")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("inpaint", "denoise", "cat-mask"), help="draw one picture only")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in (("inpaint", inpaint_grid), ("cat-mask", cat_mask), ("denoise", denoise_grid)):
        if args.only in (None, name):
            draw()
