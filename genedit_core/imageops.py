"""Pixel operations on in-memory images that several plugins and commands need alike.

* :func:`make_grid` tiles a batch into one preview image: training sample grids, ``genedit generate
  --grid``, a VAE's latent traversals.
* :func:`downscale` is the standard "BI" degradation of published super-resolution tables. SR training
  pairs, SR evaluation and genedit-compress's quality check of any upscaler must all feed the same
  low-resolution input, or their PSNR figures do not compare.

Importing this module does not import torch; tensors are accepted where they are passed in.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def make_grid(images: Any, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile N×C×H×W images in 0–1 (a torch tensor on any device, or an array) row by row into one
    H'×W'×C float32 array with ``pad``-pixel white gutters.

    ``cols`` defaults to a near-square grid; the last row may be short (its gaps stay white).
    """
    if hasattr(images, "detach"):
        images = images.detach().float().cpu().numpy()
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or len(arr) == 0:
        raise ValueError(f"make_grid needs a non-empty N×C×H×W batch, got shape {arr.shape}")
    n, c, h, w = arr.shape
    cols = max(1, min(cols or math.ceil(math.sqrt(n)), n))
    rows = math.ceil(n / cols)
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        canvas[y : y + h, x : x + w] = arr[i].transpose(1, 2, 0)
    return canvas


def downscale(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Anti-aliased bicubic downsampling by ``scale``, clamped to 0–1 and rounded to 8-bit levels.

    The rounding is part of the convention: a low-resolution input read from an 8-bit file has only
    those levels, and models trained or scored on it must see the same. C×H×W or N×C×H×W in, same
    rank out; sides are divided by ``scale`` (rounded down).
    """
    import torch.nn.functional as F

    x = image[None] if image.ndim == 3 else image
    lr = F.interpolate(x, scale_factor=1 / scale, mode="bicubic", align_corners=False, antialias=True)
    lr = (lr.clamp(0, 1) * 255).round() / 255
    return lr[0] if image.ndim == 3 else lr
