"""RGB ↔ YCbCr (ITU-R BT.601, studio swing), the colour space SRCNN/VDSR papers and SR tables use.

Coefficients are those of MATLAB's ``rgb2ycbcr`` on 0–255 values, e.g.
Y = (65.738 R + 129.057 G + 25.064 B) / 256 + 16. Here values are 0–1 on both sides, so the offsets
become 16/255 and 128/255. The inverse is the exact matrix inverse, so an untouched round trip is
lossless (up to float rounding) rather than off by the rounding of published inverse coefficients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

_FORWARD = (
    (65.738, 129.057, 25.064),
    (-37.945, -74.494, 112.439),
    (112.439, -94.154, -18.285),
)
_OFFSET = (16.0, 128.0, 128.0)


def _forward64() -> torch.Tensor:
    return torch.tensor(_FORWARD, dtype=torch.float64) / 256.0


def _affine(x: torch.Tensor, matrix: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Per-pixel 3×3 colour transform as a 1×1 convolution (keeps channels_last layouts)."""
    weight = matrix.to(device=x.device, dtype=x.dtype).reshape(3, 3, 1, 1)
    return F.conv2d(x, weight, bias.to(device=x.device, dtype=x.dtype))


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB in 0–1 to Y, Cb, Cr in 0–1 (Y spans 16/255–235/255 for in-gamut colours)."""
    offset = torch.tensor(_OFFSET, dtype=torch.float64) / 255.0
    return _affine(x, _forward64(), offset)


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`rgb_to_ycbcr`."""
    inverse = torch.linalg.inv(_forward64())
    offset = torch.tensor(_OFFSET, dtype=torch.float64) / 255.0
    return _affine(x, inverse, -(inverse @ offset))
