"""Weight-free upscalers: bicubic and Lanczos-3, as modules so they tile and batch like networks."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Bicubic(nn.Module):
    """Bicubic with PyTorch's kernel (a = -0.75), half-pixel centres, clamped to 0–1."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False).clamp(0, 1)

    @property
    def activation_bytes_per_pixel(self) -> float:
        """The upscale and its clamped copy: 2 × 3 channels at scale² pixels, fp32."""
        return 4.0 * 6 * self.scale**2


def lanczos_matrix(n_in: int, scale: int, a: int = 3, dtype=torch.float32) -> torch.Tensor:
    """Rows are output pixels, columns input pixels; edges replicate, rows sum to one."""
    n_out = n_in * scale
    centres = (torch.arange(n_out, dtype=torch.float64) + 0.5) / scale - 0.5
    base = torch.floor(centres).long()
    offsets = torch.arange(-a + 1, a + 1)
    idx = base[:, None] + offsets[None, :]
    d = centres[:, None] - idx.double()
    w = torch.where(d.abs() < 1e-12, torch.ones_like(d), _sinc(d) * _sinc(d / a))
    w = torch.where(d.abs() < a, w, torch.zeros_like(w))
    w = w / w.sum(dim=1, keepdim=True)
    mat = torch.zeros(n_out, n_in, dtype=torch.float64)
    mat.scatter_add_(1, idx.clamp(0, n_in - 1), w)
    return mat.to(dtype)


def _sinc(x: torch.Tensor) -> torch.Tensor:
    px = math.pi * x
    return torch.where(x.abs() < 1e-12, torch.ones_like(x), torch.sin(px) / px)


class Lanczos(nn.Module):
    """Separable Lanczos-3 as two matrix products (exact for integer scales)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    @property
    def activation_bytes_per_pixel(self) -> float:
        """The row pass (3 channels at scale× pixels), the column pass and its clamped copy."""
        return 4.0 * 3 * (self.scale + 2 * self.scale**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        mh = lanczos_matrix(h, self.scale, dtype=x.dtype).to(x.device)
        mw = lanczos_matrix(w, self.scale, dtype=x.dtype).to(x.device)
        return torch.matmul(torch.matmul(mh, x), mw.T).clamp(0, 1)
