"""Pixel operations on in-memory images that several plugins and commands need alike.

* :func:`make_grid` tiles a batch into one preview image: training sample grids, ``genedit generate
  --grid``, a VAE's latent traversals.
* :func:`downscale` is the standard "BI" degradation of published super-resolution tables. SR training
  pairs, SR evaluation and genedit-compress's quality check of any upscaler must all feed the same
  low-resolution input, or their PSNR figures do not compare.
* :func:`rgb_to_lab` and :func:`lab_to_rgb` convert to and from CIE Lab, where colour statistics
  (Reinhard colour transfer in genedit-style, a swapped face's colour matching in genedit-faceswap)
  are measured: one exact conversion, so plugins' Lab figures agree.

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


# sRGB (D65) to XYZ, IEC 61966-2-1; the D65 white; the CIE constants ε and κ (exact ratios, so the
# two branches of the Lab curve meet without a step).
_RGB2XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE = (0.95047, 1.0, 1.08883)
_EPS, _KAPPA = 216 / 24389, 24389 / 27


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """N×3×H×W sRGB in 0–1 to CIE Lab (D65): L in 0–100, a and b around 0."""
    import torch

    m, white = torch.tensor(_RGB2XYZ).to(rgb), torch.tensor(_WHITE).to(rgb).view(1, 3, 1, 1)
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0) + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,njhw->nihw", m, lin) / white
    f = torch.where(xyz > _EPS, xyz.clamp_min(1e-12) ** (1 / 3), (_KAPPA * xyz + 16) / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (D65) to N×3×H×W sRGB, clipped to 0–1 (Lab holds colours sRGB cannot show)."""
    import torch

    inv = torch.linalg.inv(torch.tensor(_RGB2XYZ)).to(lab)
    white = torch.tensor(_WHITE).to(lab).view(1, 3, 1, 1)
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA) * white
    lin = torch.einsum("ij,njhw->nihw", inv, xyz).clamp(0, 1)
    rgb = torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return rgb.clamp(0, 1)
