"""Image grids for samples and previews (torch in, H×W×C float array out)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def make_grid_tensor(images: Any, pad: int = 2, cols: int | None = None) -> np.ndarray:
    """N×C×H×W tensor in 0–1 to one H×W×C float32 array, near-square, white padding."""
    arr = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    n, c, h, w = arr.shape
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        canvas[y : y + h, x : x + w] = arr[i].transpose(1, 2, 0)
    return canvas
