"""Pixel operations on in-memory images that several plugins and commands need alike.

* :func:`make_grid` tiles a batch into one preview image: training sample grids, ``genedit generate
  --grid``, a VAE's latent traversals.
* :func:`downscale` is the standard "BI" degradation of published super-resolution tables. SR training
  pairs, SR evaluation and genedit-compress's quality check of any upscaler must all feed the same
  low-resolution input, or their PSNR figures do not compare.
* :func:`rgb_to_lab` and :func:`lab_to_rgb` convert to and from CIE Lab, where colour statistics
  (Reinhard colour transfer in genedit-style, a swapped face's colour matching in genedit-faceswap)
  are measured: one exact conversion, so plugins' Lab figures agree.
* :func:`xdog` turns a photo into a line drawing (Winnemöller et al. 2012): genedit-colorize makes
  its training line art and ``genedit run lineart`` with it, genedit-vae its sketch conditions. One
  filter, so a drawing made for one plugin reads the same to the other. :func:`luminance` is the
  BT.601 grey it works on.

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


LUMA = (0.299, 0.587, 0.114)  # BT.601 weights of R, G, B


def luminance(x: torch.Tensor) -> torch.Tensor:
    """N×1×H×W BT.601 luminance of an N×C×H×W image (C = 1 is returned as it is; of more than three
    channels the first three are used, so an alpha channel is ignored)."""
    import torch

    if x.ndim != 4:
        raise ValueError(f"expected N×C×H×W, got {tuple(x.shape)}")
    if x.shape[1] == 1:
        return x
    if x.shape[1] < 3:
        return x[:, :1]
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x[:, :3] * w).sum(1, keepdim=True)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an N×1×H×W tensor; radius 3σ, borders reflected (replicated on an
    image smaller than the radius), so a flat image stays exactly flat."""
    import torch
    import torch.nn.functional as F

    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    mode = "reflect" if radius < min(x.shape[-2:]) else "replicate"
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode=mode), g.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode=mode), g.view(1, 1, -1, 1))


def xdog(
    x: torch.Tensor,
    sigma: float = 0.8,
    k: float = 1.6,
    p: float = 20.0,
    epsilon: float = 0.0,
    phi: float = 10.0,
) -> torch.Tensor:
    """N×1×H×W line drawing in 0–1 (white paper, dark lines) of an N×C×H×W image in 0–1: XDoG in
    the p-formulation of Winnemöller, Kyprianidis and Olsen 2012.

    ``S = (1+p)·G_σ − p·G_kσ`` of the luminance sharpens edges; pixels with ``S ≥ ε`` are paper (1),
    the rest fall off as ``1 + tanh(φ(S − ε))``. With ε = 0 a flat region of any grey stays white and
    only the dark side of an edge is drawn, which reads as a line drawing rather than a toned one.
    """
    import torch

    if sigma <= 0 or k <= 1:
        raise ValueError(f"xdog needs sigma > 0 and k > 1, got sigma={sigma}, k={k}")
    y = luminance(x.float())
    s = (1 + p) * _gaussian_blur(y, sigma) - p * _gaussian_blur(y, k * sigma)
    out = torch.where(s >= epsilon, torch.ones_like(s), 1 + torch.tanh(phi * (s - epsilon)))
    return out.clamp(0, 1)
