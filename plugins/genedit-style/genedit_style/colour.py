"""Colour transfer (Reinhard et al. 2001): the weight-free baseline of genedit-style.

Imports torch, so only hook bodies import this module.

Each channel of the photo in CIE Lab is shifted and scaled to the painting's mean and standard
deviation, then converted back. It moves the palette and nothing else (no strokes, no texture), so
it is the floor the learned methods are compared with. Reinhard et al. used lαβ; Lab (D65, sRGB
primaries) is the common modern choice and is what this uses (the core's conversion).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import LoadedModel, lab_to_rgb, rgb_to_lab


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
