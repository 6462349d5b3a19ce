"""Seeded random hole masks for inpainting evaluation: free-form strokes and boxes.

Strokes are random walks of thick lines (like hand-drawn scribbles over a photo), boxes stand in for
missing blocks; both are added until the hole covers a fraction drawn uniformly from ``coverage``.
The same ``(seed, index)`` always gives the same mask, so every model is scored on the same holes.
"""

from __future__ import annotations

import numpy as np


def random_mask(
    height: int,
    width: int,
    rng: np.random.Generator,
    coverage: tuple[float, float] = (0.1, 0.3),
    scale: float = 1.0,
) -> np.ndarray:
    """An H×W bool mask (True = hole) covering a fraction of the image drawn from ``coverage``.

    Stroke widths, lengths and box sides are fractions of the image's shorter side; ``scale``
    multiplies that side, so a training crop can get the strokes a ``scale``-times larger image
    would (the evaluation masks of full-size photos are much wider than those of a 128-pixel crop).
    """
    from PIL import Image, ImageDraw

    target = float(rng.uniform(*coverage))
    im = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(im)
    side = int(min(height, width) * scale)
    for _ in range(200):
        if np.count_nonzero(np.asarray(im)) >= target * height * width:
            break
        if rng.random() < 0.7:  # a stroke of 2-6 segments
            x, y = float(rng.uniform(0, width)), float(rng.uniform(0, height))
            thick = int(rng.integers(max(2, side // 40), max(3, side // 12)))
            for _ in range(int(rng.integers(2, 7))):
                angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(side / 10, side / 4)
                nx = float(np.clip(x + length * np.cos(angle), 0, width - 1))
                ny = float(np.clip(y + length * np.sin(angle), 0, height - 1))
                draw.line([(x, y), (nx, ny)], fill=255, width=thick)
                r = thick / 2
                draw.ellipse([nx - r, ny - r, nx + r, ny + r], fill=255)  # round joints
                x, y = nx, ny
        else:
            bw, bh = (int(rng.uniform(side / 12, side / 5)) for _ in range(2))
            x0, y0 = int(rng.integers(0, max(1, width - bw))), int(rng.integers(0, max(1, height - bh)))
            draw.rectangle([x0, y0, x0 + bw, y0 + bh], fill=255)
    return np.asarray(im) > 0
