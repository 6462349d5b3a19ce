"""VDSR (Kim et al., 2016, https://arxiv.org/abs/1511.04587): a deep plain stack on the bicubic upscale.

``num_layers`` 3×3 convs (20 in the paper) of ``num_feat`` (64) channels with ReLU between them;
the stack predicts the residual that is added to the bicubic upscale. Our keys are ``convs.{i}``.
The paper works on Y (``channels=1``); genedit's bundled model works on RGB (``channels=3``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._upscaled import UpscaledRefiner


class VDSR(UpscaledRefiner):
    def __init__(self, scale: int = 2, channels: int = 3, num_feat: int = 64, num_layers: int = 20):
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"VDSR works on Y (1 channel) or RGB (3 channels), not {channels}")
        if num_layers < 2:
            raise ValueError(f"VDSR needs at least 2 layers, not {num_layers}")
        self.scale, self.channels, self.num_feat, self.num_layers = scale, channels, num_feat, num_layers
        widths = [channels] + [num_feat] * (num_layers - 1) + [channels]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], 3, 1, 1) for i in range(num_layers))

    def refine(self, x: torch.Tensor) -> torch.Tensor:
        r = x
        for conv in self.convs[:-1]:
            r = F.relu(conv(r))
        return x + self.convs[-1](r)

    def _peak_maps(self) -> int:
        return 4 * self.num_feat  # the residual input, conv and ReLU outputs, a backend copy

    def _radius_hr(self) -> int:
        return self.num_layers
