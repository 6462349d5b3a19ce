"""DnCNN (Zhang et al. 2017, "Beyond a Gaussian Denoiser"): a plain conv stack that predicts the noise.

``depth`` 3×3 convolutions of ``features`` channels: conv+ReLU, then ``depth - 2`` × conv(+BN)+ReLU,
then a conv back to ``channels``; the output is the input minus the predicted noise (residual
learning). The paper's grey models have 17 layers (σ = 15, 25, 50 or blind), its blind colour one
(CDnCNN-B) 20.

The module is one ``nn.Sequential`` named ``model`` laid out like KAIR's ``network_dncnn.py``, so
KAIR files load without renaming: with batch norm (``bn=True``) the body is conv, BN, ReLU at
``model.2+3i``; with BN folded into the convs (``bn=False``, KAIR's released files) conv and ReLU
alternate and the convs sit at the even indices. cszn/DnCNN's PyTorch code names the same stack
``dncnn`` and leaves the body and last convs without bias (``body_bias=False``).
"""

from __future__ import annotations

import torch
from torch import nn

BN_EPS = 1e-4  # both published layouts use eps 1e-4


class DnCNN(nn.Module):
    def __init__(
        self,
        channels: int = 3,
        features: int = 64,
        depth: int = 17,
        bn: bool = False,
        body_bias: bool = True,
    ):
        super().__init__()
        if depth < 2:
            raise ValueError(f"DnCNN needs at least 2 layers, got depth {depth}")
        layers: list[nn.Module] = [
            nn.Conv2d(channels, features, 3, padding=1, bias=True),
            nn.ReLU(inplace=True),
        ]
        for _ in range(depth - 2):
            layers.append(nn.Conv2d(features, features, 3, padding=1, bias=body_bias))
            if bn:
                layers.append(nn.BatchNorm2d(features, eps=BN_EPS))
            layers.append(nn.ReLU(inplace=True))
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=body_bias))
        self.model = nn.Sequential(*layers)
        self.channels, self.depth = channels, depth
        self.receptive_field = depth  # each 3×3 conv adds one pixel of context per side
        # Peak fp32 activations per input pixel: a few feature maps alive at once in eval.
        self.activation_bytes_per_pixel = 4.0 * features * 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels == 1 and x.shape[1] != 1:  # a grey network denoises each channel on its own
            n, c, h, w = x.shape
            return self.forward(x.reshape(n * c, 1, h, w)).reshape(n, c, h, w)
        return x - self.model(x)
