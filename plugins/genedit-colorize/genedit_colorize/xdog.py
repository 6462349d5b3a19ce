"""XDoG (Winnemöller, Kyprianidis and Olsen 2012): a difference of Gaussians, sharpened and softly
thresholded, turns a photo into a line drawing.

Written in torch on batches, because training makes line art from every photo crop on the fly
(PaintsChainer built its pairs this way). Luminance is BT.601 on 0-1 values; the Gaussians are
separable convolutions with reflected borders, so a flat image stays exactly flat.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """N×1×H×W luminance of an N×C×H×W image (C = 1 is returned as it is)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x[:, :3] * w).sum(1, keepdim=True)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of an N×1×H×W tensor; radius 3σ, borders reflected."""
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    h, w = x.shape[-2:]
    # reflect needs the pad smaller than the side; replicate covers tiny images
    mode = "reflect" if radius < min(h, w) else "replicate"
    x = F.pad(x, (radius, radius, 0, 0), mode=mode)
    x = F.conv2d(x, g.view(1, 1, 1, -1))
    x = F.pad(x, (0, 0, radius, radius), mode=mode)
    return F.conv2d(x, g.view(1, 1, -1, 1))


def xdog(
    x: torch.Tensor,
    sigma: float = 0.8,
    k: float = 1.6,
    p: float = 20.0,
    epsilon: float = 0.0,
    phi: float = 10.0,
) -> torch.Tensor:
    """N×1×H×W line drawing in 0-1 (white paper, dark lines) of an N×C×H×W image in 0-1.

    ``S = (1+p)·G_σ − p·G_kσ`` sharpens edges; pixels with ``S ≥ ε`` are paper (1), the rest fall
    off as ``1 + tanh(φ(S − ε))``. A flat region of any grey above ε stays white.
    """
    if sigma <= 0 or k <= 1:
        raise ValueError(f"xdog needs sigma > 0 and k > 1, got sigma={sigma}, k={k}")
    y = luminance(x.float())
    s = (1 + p) * gaussian_blur(y, sigma) - p * gaussian_blur(y, k * sigma)
    out = torch.where(s >= epsilon, torch.ones_like(s), 1 + torch.tanh(phi * (s - epsilon)))
    return out.clamp(0, 1)
