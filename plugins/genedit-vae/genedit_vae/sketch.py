"""Sketch extraction in plain torch ops, so SVAE training needs only an image folder.

Two methods, both returning a one-channel map of the input size with the convention of a drawing:
white paper (1) and dark lines (0), which is also what a user's hand-drawn sketch looks like.

* ``xdog``: the eXtended Difference of Gaussians of Winnemöller et al. 2012, the core's
  :func:`genedit_core.sdk.xdog` (the filter genedit-colorize draws its line art with), here with
  σ = 0.6, the line width this plugin has always drawn its sketches with. With ε = 0, flat regions
  of any brightness stay white and only the dark side of edges is drawn.
* ``sobel``: gradient magnitude of the blurred luminance, scaled by a high percentile of the
  image's own magnitudes so the line density does not depend on contrast.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

METHODS = ("xdog", "sobel")
LUMA = (0.299, 0.587, 0.114)
XDOG_SIGMA = 0.6  # XDoG's line width for sketch conditions (the core's default is 0.8)


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """N×C×H×W in 0–1 to N×1×H×W luminance (Rec. 601 weights for RGB, the mean otherwise)."""
    if x.ndim != 4:
        raise ValueError(f"expected N×C×H×W, got {tuple(x.shape)}")
    if x.shape[1] == 1:
        return x
    if x.shape[1] == 3:
        w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    return x.mean(1, keepdim=True)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding (radius 3σ, clipped to the image)."""
    if sigma <= 0:
        return x
    radius = max(1, math.ceil(3 * sigma))
    radius = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if radius < 1:
        return x
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def sobel(
    x: torch.Tensor, sigma: float = 0.8, percentile: float = 0.9, strength: float = 1.0
) -> torch.Tensor:
    grey = gaussian_blur(to_grey(x), sigma)
    kx = (
        torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device)
        / 8
    )
    g = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(g, kx.view(1, 1, 3, 3))
    gy = F.conv2d(g, kx.t().contiguous().view(1, 1, 3, 3))
    mag = (gx.pow(2) + gy.pow(2)).sqrt()
    flat = mag.flatten(1).float()
    # A high percentile tracks the contrast of busy photos; on sparse images (one shape on black) it
    # is ~0, so half the strongest edge takes over.
    scale = (
        torch.maximum(torch.quantile(flat, percentile, dim=1), 0.5 * flat.amax(1)).to(x.dtype).clamp_min(1e-3)
    )
    return (1.0 - strength * mag / scale.view(-1, 1, 1, 1)).clamp(0, 1)


def extract_sketch(x: torch.Tensor, method: str = "xdog", **kwargs: float) -> torch.Tensor:
    """Sketch of a batch of images in 0–1: N×1×H×W, white paper and dark lines."""
    if method == "xdog":
        from genedit_core.sdk import xdog

        return xdog(x, **{"sigma": XDOG_SIGMA, **kwargs})
    if method == "sobel":
        return sobel(x, **kwargs)
    raise ValueError(f"unknown sketch method '{method}' (use {' or '.join(METHODS)})")
