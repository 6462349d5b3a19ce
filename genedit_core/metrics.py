"""Image-quality maths shared by every evaluator, with the conventions of published SR tables.

* Y channel of BT.601: ``Y = (65.738 R + 129.057 G + 25.064 B) / 256 + 16`` on 0–255 values.
* A border of ``scale`` pixels is cropped before measuring.
* SSIM uses an 11×11 Gaussian window with σ = 1.5 and the population covariance, which matches
  ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)`` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def to_uint8_range(x: np.ndarray) -> np.ndarray:
    """0–1 floats to 0–255 floats with 8-bit rounding (what a saved PNG would hold)."""
    return np.round(np.clip(x, 0, 1) * 255.0)


def rgb_to_y(rgb255: np.ndarray) -> np.ndarray:
    """H×W×3 array on 0–255 to the BT.601 luma on 16–235."""
    r, g, b = rgb255[..., 0], rgb255[..., 1], rgb255[..., 2]
    return (65.738 * r + 129.057 * g + 25.064 * b) / 256.0 + 16.0


def crop_border(x: np.ndarray, border: int) -> np.ndarray:
    return x[border:-border, border:-border] if border > 0 else x


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = (size - 1) // 2
    x = torch.arange(-r, r + 1, dtype=torch.float64)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM of two single-channel arrays (valid region only, as scikit-image crops it)."""
    x = torch.from_numpy(a.astype(np.float64))[None, None]
    y = torch.from_numpy(b.astype(np.float64))[None, None]
    g = _gaussian_window()
    kh, kw = g.view(1, 1, -1, 1), g.view(1, 1, 1, -1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kh), kw)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cxy = blur(x * y) - mx * my
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def sr_metrics(output: np.ndarray, target: np.ndarray, scale: int) -> tuple[float, float]:
    """PSNR/SSIM on Y with the border cropped by ``scale``; inputs are H×W×3 floats in 0–1."""
    y_out = crop_border(rgb_to_y(to_uint8_range(output)), scale)
    y_ref = crop_border(rgb_to_y(to_uint8_range(target)), scale)
    return psnr(y_out, y_ref), ssim(y_out, y_ref)
