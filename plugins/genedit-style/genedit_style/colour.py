"""Colour transfer (Reinhard et al. 2001): the weight-free baseline of genedit-style.

Imports torch, so only hook bodies import this module.

Each channel of the photo in CIE Lab is shifted and scaled to the painting's mean and standard
deviation, then converted back. It moves the palette and nothing else (no strokes, no texture), so
it is the floor the learned methods are compared with. Reinhard et al. used lαβ; Lab (D65, sRGB
primaries) is the common modern choice and is what this uses.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import LoadedModel

# sRGB (D65) to XYZ, IEC 61966-2-1
_RGB2XYZ = torch.tensor(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_EPS, _KAPPA = 216 / 24389, 24389 / 27


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """N×3×H×W sRGB in 0-1 to CIE Lab (L in 0-100)."""
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb.clamp_min(0) + 0.055) / 1.055) ** 2.4)
    xyz = torch.einsum("ij,njhw->nihw", _RGB2XYZ.to(rgb), lin) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _EPS, xyz.clamp_min(1e-12) ** (1 / 3), (_KAPPA * xyz + 16) / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab to N×3×H×W sRGB, clipped to 0-1."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], dim=1)
    xyz = torch.where(f**3 > _EPS, f**3, (116 * f - 16) / _KAPPA) * _WHITE.to(lab).view(1, 3, 1, 1)
    lin = torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB2XYZ).to(lab), xyz).clamp(0, 1)
    rgb = torch.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return rgb.clamp(0, 1)


def reinhard(photo: torch.Tensor, style: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """``photo`` with the Lab mean and std of ``style``; ``strength`` blends from 0 (photo) to 1."""
    src, ref = rgb_to_lab(photo.float()), rgb_to_lab(style.float())
    mu_s, sd_s = src.mean((2, 3), keepdim=True), src.std((2, 3), keepdim=True).clamp_min(1e-6)
    mu_r, sd_r = ref.mean((2, 3), keepdim=True), ref.std((2, 3), keepdim=True)
    moved = (src - mu_s) / sd_s * sd_r + mu_r
    out = lab_to_rgb(src + strength * (moved - src))
    return out.to(photo.dtype)


def build(request: Any) -> LoadedModel:
    """No weights: the model is the transfer itself, with the bundled painting as its style."""
    from .styleimage import read_style

    style: list[torch.Tensor] = []

    def forward(x: torch.Tensor) -> torch.Tensor:
        if not style:
            style.append(read_style(None))
        return reinhard(x, style[0].to(x))

    return LoadedModel(
        card=request.card,
        module=nn.Identity(),
        forward=forward,
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # the statistics are the whole image's
        receptive_field=0,
    )
