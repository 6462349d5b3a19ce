"""Shared base for networks that refine a bicubic upscale (SRCNN, VDSR).

Such networks work at the output resolution on a pre-upscaled image. With ``channels=1`` they see
only the luma, as in the papers: the wrapper converts the bicubic upscale to YCbCr (BT.601), runs
the network on Y and recombines with the bicubic Cb and Cr. With ``channels=3`` they see RGB.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F
from torch import nn

from .color import rgb_to_ycbcr, ycbcr_to_rgb


def bicubic_upscale(x: torch.Tensor, scale: int) -> torch.Tensor:
    """PyTorch bicubic (a = -0.75, half-pixel centres), clamped to 0–1 like a saved bicubic image."""
    return F.interpolate(x, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


class UpscaledRefiner(nn.Module, abc.ABC):
    channels: int
    scale: int
    size_multiple = 1

    @abc.abstractmethod
    def refine(self, x: torch.Tensor) -> torch.Tensor:
        """The network proper, on the upscaled Y (1 channel) or RGB (3 channels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = bicubic_upscale(x, self.scale)
        if self.channels == 3:
            return self.refine(up)
        ycc = rgb_to_ycbcr(up)
        return ycbcr_to_rgb(torch.cat([self.refine(ycc[:, :1]), ycc[:, 1:]], 1))

    @abc.abstractmethod
    def _radius_hr(self) -> int:
        """Context radius of the convs, in output pixels."""

    @abc.abstractmethod
    def _peak_maps(self) -> int:
        """Feature maps the network proper holds at once, at output resolution."""

    @property
    def activation_bytes_per_pixel(self) -> float:
        """Peak fp32 bytes a forward holds per input pixel: everything runs at output resolution
        (scale² pixels per input pixel): the bicubic upscale, its YCbCr copy and the network."""
        return 4.0 * self.scale**2 * (self._peak_maps() + 9)

    @property
    def receptive_field(self) -> int:
        """Input pixels of context on each side: the convs' reach at output scale, plus bicubic's 2."""
        return math.ceil(self._radius_hr() / self.scale) + 2
