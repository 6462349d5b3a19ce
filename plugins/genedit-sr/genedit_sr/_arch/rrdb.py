"""RRDBNet, the generator of ESRGAN (Wang et al., 2018) and Real-ESRGAN (Wang et al., 2021).

Parameter names follow BasicSR / Real-ESRGAN (``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
``conv_upK``, ``conv_hr``, ``conv_last``); :mod:`genedit_sr.layouts.rrdb` maps both ESRGAN layouts onto
them. The trunk always upsamples by ``2 ** num_upsample`` (nearest neighbour, then a conv); smaller
scales pixel-unshuffle the input first (×2: by 2, so ``conv_first`` takes 12 channels; ×1: by 4,
48 channels), which keeps the expensive trunk at a quarter or a sixteenth of the pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

_SLOPE = 0.2  # leaky ReLU slope and residual scaling, both 0.2 in the paper


def layout_for_scale(scale: int) -> tuple[int, int]:
    """``(num_upsample, unshuffle)`` of the standard Real-ESRGAN model for ``scale``."""
    table = {1: (2, 4), 2: (2, 2), 4: (2, 1), 8: (3, 1)}
    if scale not in table:
        raise ValueError(f"RRDBNet is built for x1, x2, x4 or x8, not x{scale}")
    return table[scale]


class ResidualDenseBlock(nn.Module):
    """Five densely connected convs; each sees the block input and all earlier outputs."""

    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        for j in range(5):
            out = num_feat if j == 4 else num_grow_ch
            setattr(self, f"conv{j + 1}", nn.Conv2d(num_feat + j * num_grow_ch, out, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for j in range(1, 5):
            feats.append(F.leaky_relu(getattr(self, f"conv{j}")(torch.cat(feats, 1)), _SLOPE))
        return x + self.conv5(torch.cat(feats, 1)) * _SLOPE


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * _SLOPE


class RRDBNet(nn.Module):
    """RGB 0–1 in, RGB 0–1 out (not clamped). ``scale`` alone picks the standard layout."""

    def __init__(
        self,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        scale: int = 4,
        num_upsample: int | None = None,
        unshuffle: int | None = None,
    ):
        super().__init__()
        if num_upsample is None or unshuffle is None:
            num_upsample, unshuffle = layout_for_scale(scale)
        if (2**num_upsample) % unshuffle or 2**num_upsample // unshuffle != scale:
            raise ValueError(
                f"{num_upsample} ×2 upsamplings after unshuffling by {unshuffle} do not give x{scale}"
            )
        self.num_feat, self.num_block, self.num_grow_ch = num_feat, num_block, num_grow_ch
        self.scale, self.num_upsample, self.unshuffle = scale, num_upsample, unshuffle
        self.conv_first = nn.Conv2d(3 * unshuffle * unshuffle, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for k in range(num_upsample):
            setattr(self, f"conv_up{k + 1}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for k in range(self.num_upsample):
            up = F.interpolate(feat, scale_factor=2, mode="nearest")
            feat = F.leaky_relu(getattr(self, f"conv_up{k + 1}")(up), _SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), _SLOPE))

    @property
    def size_multiple(self) -> int:
        return self.unshuffle

    @property
    def receptive_field(self) -> int:
        """Input pixels of context on each side that can reach an output pixel."""
        radius = 1 + 15 * self.num_block + 1  # conv_first, 3 RDBs × 5 convs per block, conv_body
        radius += sum(1 / 2 ** (k + 1) for k in range(self.num_upsample))
        radius += 2 / 2**self.num_upsample  # conv_hr, conv_last
        return math.ceil(radius * self.unshuffle)

    @property
    def activation_bytes_per_pixel(self) -> float:
        """Peak fp32 bytes a forward holds per input pixel (what ``tile="auto"`` sizes tiles by).

        The trunk runs on 1/unshuffle² of the pixels: the trunk's ``feat``, a block's input, a
        dense block's four growth maps and their concatenation. The last ×2 upsampling dominates:
        the previous map, the nearest-neighbour copy, conv and activation outputs, then ``conv_hr``
        (about 4.75 feature maps at output size plus two at input size, fitted to the peak RSS of
        CPU forwards at x1, x2 and x4, which it matches within 20%).
        """
        nf, ng = self.num_feat, self.num_grow_ch
        trunk = (5 * nf + 8 * ng) / self.unshuffle**2
        upsampled = 4.75 * nf * self.scale**2 + 2 * nf
        return 4.0 * (max(trunk, upsampled) + 3)
