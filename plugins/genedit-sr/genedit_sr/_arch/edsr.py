"""EDSR (Lim et al., 2017, https://arxiv.org/abs/1707.02921): residual blocks without batch norm.

Parameter names follow the BasicSR convention (``conv_first``, ``body.N.conv1/conv2``,
``conv_after_body``, ``upsample.K``, ``conv_last``); :mod:`genedit_sr.layouts.edsr` maps the official
EDSR-PyTorch names onto them. The value-range handling of the three published layouts differs only
by a per-channel affine map before and after the network, so it is held as four non-persistent
buffers: input ``x * in_scale + in_bias`` and output ``y * out_scale + out_bias``. The defaults are
BasicSR's: subtract the DIV2K mean and multiply by 255, then undo both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


def upsample_factors(scale: int) -> list[int]:
    """Sub-pixel stages for ``scale``: ×2 stages for powers of two, one ×3 stage for 3."""
    if scale == 3:
        return [3]
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * int(math.log2(scale))
    raise ValueError(f"EDSR supports x3 and powers of two, not x{scale}")


class ResidualBlock(nn.Module):
    """conv-ReLU-conv, scaled by ``res_scale`` and added back; no batch norm (the paper's point)."""

    def __init__(self, num_feat: int, res_scale: float):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x))) * self.res_scale


def _per_channel(values: float | Sequence[float]) -> torch.Tensor:
    t = torch.as_tensor(values, dtype=torch.float32).flatten()
    if t.numel() == 1:
        t = t.expand(3)
    if t.numel() != 3:
        raise ValueError(f"expected one value or three per-channel values, got {t.numel()}")
    return t.reshape(1, 3, 1, 1).clone()


class EDSR(nn.Module):
    """RGB 0–1 in, RGB 0–1 out (not clamped; the pipeline clamps)."""

    def __init__(
        self,
        num_feat: int = 64,
        num_block: int = 16,
        scale: int = 2,
        res_scale: float = 1.0,
        in_scale: float | Sequence[float] = 255.0,
        in_bias: float | Sequence[float] = tuple(-255.0 * m for m in DIV2K_MEAN),
        out_scale: float | Sequence[float] = 1.0 / 255.0,
        out_bias: float | Sequence[float] = DIV2K_MEAN,
    ):
        super().__init__()
        self.num_feat, self.num_block, self.scale, self.res_scale = num_feat, num_block, scale, res_scale
        self.conv_first = nn.Conv2d(3, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(ResidualBlock(num_feat, res_scale) for _ in range(num_block)))
        self.conv_after_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        stages: list[nn.Module] = []
        for f in upsample_factors(scale):
            stages += [nn.Conv2d(num_feat, num_feat * f * f, 3, 1, 1), nn.PixelShuffle(f)]
        self.upsample = nn.Sequential(*stages)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        for name, value in (
            ("in_scale", in_scale),
            ("in_bias", in_bias),
            ("out_scale", out_scale),
            ("out_bias", out_bias),
        ):
            self.register_buffer(name, _per_channel(value), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x * self.in_scale + self.in_bias)
        feat = feat + self.conv_after_body(self.body(feat))
        return self.conv_last(self.upsample(feat)) * self.out_scale + self.out_bias

    size_multiple = 1

    @property
    def receptive_field(self) -> int:
        """Input pixels of context on each side that can reach an output pixel."""
        radius = 1 + 2 * self.num_block + 1  # conv_first, the blocks, conv_after_body
        res = 1
        for f in upsample_factors(self.scale):
            radius += 1 / res
            res *= f
        return math.ceil(radius + 1 / res)  # conv_last runs at the output resolution

    @property
    def activation_bytes_per_pixel(self) -> float:
        """Peak fp32 bytes a forward holds per input pixel (what ``tile="auto"`` sizes tiles by).

        The body holds about five feature maps at input size (the trunk's ``feat``, a block's
        input, conv, ReLU and conv outputs); each ×f stage holds ``feat``, its input, the conv
        output (f² maps), its shuffled copy and the conv backend's working copy (2.5 maps at the
        stage's output area, matched to the peak RSS of CPU forwards at x2, x3 and x4).
        """
        nf, peak, res = self.num_feat, 5 * self.num_feat, 1
        for f in upsample_factors(self.scale):
            peak = max(peak, nf + nf * res * res + 2.5 * nf * (res * f) ** 2)
            res *= f
        return 4.0 * (peak + 3)
