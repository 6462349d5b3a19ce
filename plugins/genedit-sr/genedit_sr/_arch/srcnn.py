"""SRCNN (Dong et al., 2014, https://arxiv.org/abs/1501.00092): three convs on the bicubic upscale.

The 9-5-5 model maps the upscaled Y channel to a restored Y channel: ``conv1`` [64,1,9,9] (patch
extraction), ``conv2`` [32,64,5,5] (non-linear mapping), ``conv3`` [1,32,5,5] (reconstruction),
ReLU after the first two. Convs are zero-padded to keep the size (the paper used valid convs and a
smaller output). Channel and kernel sizes are parameters so 9-1-5 or 9-3-5 variants also load.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._upscaled import UpscaledRefiner


class SRCNN(UpscaledRefiner):
    def __init__(
        self,
        scale: int = 2,
        channels: int = 1,
        features: Sequence[int] = (64, 32),
        kernels: Sequence[int] = (9, 5, 5),
    ):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"SRCNN works on Y (1 channel) or RGB (3 channels), not {channels}")
        self.scale, self.channels = scale, channels
        self.features, self.kernels = tuple(features), tuple(kernels)
        widths = (channels, *self.features, channels)
        for i, k in enumerate(self.kernels):
            setattr(self, f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], k, 1, k // 2))

    def refine(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.conv3(x)

    def _peak_maps(self) -> int:
        return 2 * max(self.features, default=0) + min(self.features, default=0)

    def _radius_hr(self) -> int:
        return sum(k // 2 for k in self.kernels)
