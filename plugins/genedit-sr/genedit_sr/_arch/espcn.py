"""ESPCN (Shi et al., 2016, https://arxiv.org/abs/1609.05158): all convs at low resolution, then
one sub-pixel (pixel-shuffle) step, which is what makes it fast.

conv 5×5 → 64, tanh; conv 3×3 → 32, tanh; conv 3×3 → 3·s²; pixel shuffle by s. Keys ``conv1..3``.
RGB in and out, 0–1 (the paper used Y; genedit's bundled weights are RGB).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ESPCN(nn.Module):
    size_multiple = 1

    def __init__(
        self, scale: int = 3, features: Sequence[int] = (64, 32), kernels: Sequence[int] = (5, 3, 3)
    ):
        super().__init__()
        if scale < 1:
            raise ValueError(f"ESPCN scale must be positive, not {scale}")
        self.scale, self.features, self.kernels = scale, tuple(features), tuple(kernels)
        widths = (3, *self.features, 3 * scale * scale)
        for i, k in enumerate(self.kernels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], k, 1, k // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv1(x))
        x = torch.tanh(self.conv2(x))
        return F.pixel_shuffle(self.conv3(x), self.scale)

    @property
    def receptive_field(self) -> int:
        return math.ceil(sum(k // 2 for k in self.kernels))

    @property
    def activation_bytes_per_pixel(self) -> float:
        """Peak fp32 bytes a forward holds per input pixel: two maps per conv (output and tanh),
        then the sub-pixel conv's 3·scale² channels and their shuffled copy."""
        widest = max((2 * f for f in self.features), default=0)
        return 4.0 * (widest + 6 * self.scale**2 + 3)
