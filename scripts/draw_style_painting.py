"""Draw the style image bundled with genedit-style: a swirling brush-stroke painting.

Why drawn: no installed package ships a public-domain painting, and a style image must have a
clear licence. This one is ours (Apache-2.0, like the code): about 6,000 short strokes follow a
swirling flow field, coloured from a night-sky palette (deep blues, with yellow and white around
a few "stars"), so it has what style transfer picks up: strong strokes, a dominant orientation
pattern and a limited palette. Deterministic (seeded):

    python scripts/draw_style_painting.py   # writes plugins/genedit-style/genedit_style/images/swirls.png
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "plugins" / "genedit-style" / "genedit_style" / "images" / "swirls.png"
PALETTE = {
    "night": [(16, 34, 92), (28, 62, 140), (44, 92, 170), (70, 120, 190), (22, 48, 110)],
    "star": [(250, 222, 90), (255, 240, 170), (236, 186, 60), (250, 250, 230)],
    "ground": [(20, 40, 32), (40, 64, 44), (12, 22, 30)],
}


def draw(size: int = 384, strokes: int = 6000, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), PALETTE["night"][0])
    d = ImageDraw.Draw(img)
    stars = rng.uniform(0.1, 0.9, size=(5, 2)) * [size, size * 0.6]
    for _ in range(strokes):
        x, y = rng.uniform(0, size, 2)
        near = min(math.hypot(x - sx, y - sy) for sx, sy in stars)
        if y > 0.78 * size:
            colour = PALETTE["ground"][rng.integers(3)]
        elif near < 0.08 * size * rng.uniform(0.6, 1.4):
            colour = PALETTE["star"][rng.integers(4)]
        else:
            colour = PALETTE["night"][rng.integers(5)]
        jitter = rng.integers(-14, 15, 3)
        colour = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter))
        points = [(x, y)]
        for _ in range(int(rng.integers(4, 10))):
            # swirl around the nearest star, plus a slow wave everywhere else
            sx, sy = min(stars, key=lambda s: math.hypot(x - s[0], y - s[1]))
            r = math.hypot(x - sx, y - sy) + 1e-3
            swirl = math.atan2(y - sy, x - sx) + math.pi / 2
            wave = math.sin(y / size * 9) + 0.6 * math.cos(x / size * 7)
            w = math.exp(-r / (0.15 * size))
            angle = w * swirl + (1 - w) * wave
            x, y = x + 4 * math.cos(angle), y + 4 * math.sin(angle)
            points.append((x, y))
        d.line(points, fill=colour, width=int(rng.integers(3, 7)), joint="curve")
    return img.filter(ImageFilter.SMOOTH)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    draw().save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
