"""The classical baselines as real models: no weights, the same requests as the networks.

Denoising runs scikit-image (non-local means, BayesShrink wavelet shrinkage, Chambolle TV) on float
images, so 16-bit inputs keep their precision and σ is explicit; it is always installed with the
bundled photo sets. Inpainting runs OpenCV's Telea and Navier-Stokes (the only implementations at
hand; 8-bit inside, so a 16-bit input is 8-bit only inside the hole) and scikit-image's biharmonic
fill. Every method works on the whole image (the noise estimate and the fill are global), so the
models are not tiled.

The parameters that are not σ (NL-means ``h = 0.6σ``, 5×5 patches, 13×13 search; TV weight
``σ/255 · 0.9``) were chosen on the training photos at σ = 25 (``benchmarks/restore_report.py``
documents the sweep); the held-out photos were not used to choose them.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

from genedit_core.sdk import GeneditWarning, ImageError, LoadedModel, UsageError

from .params import estimate_sigma

NLM_H = 0.6
TV_WEIGHT = 0.9
DENOISERS = ("nlmeans", "wavelet", "tv")
INPAINTERS = ("telea", "navier-stokes", "biharmonic")


def denoise_array(method: str, image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` (H×W×C floats in 0-1) denoised by ``method`` for noise σ (0-255 scale)."""
    from skimage import restoration as R

    if sigma <= 0:
        return image.copy()
    s = sigma / 255.0
    if method == "nlmeans":
        out = R.denoise_nl_means(
            image, h=NLM_H * s, sigma=s, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1
        )
    elif method == "wavelet":
        out = R.denoise_wavelet(
            image,
            sigma=s,
            method="BayesShrink",
            mode="soft",
            rescale_sigma=True,
            channel_axis=-1,
            convert2ycbcr=image.shape[-1] == 3,
        )
    elif method == "tv":
        out = R.denoise_tv_chambolle(image, weight=TV_WEIGHT * s, channel_axis=-1)
    else:
        raise ValueError(f"unknown denoiser {method!r}")
    return np.clip(out, 0.0, 1.0)


def _cv2():
    try:
        import cv2
    except ImportError:
        raise UsageError(
            "OpenCV inpainting needs opencv-python-headless: pip install opencv-python-headless"
        ) from None
    return cv2


def inpaint_array(method: str, image: np.ndarray, hole: np.ndarray, radius: int = 3) -> np.ndarray:
    """``image`` (H×W×C in 0-1) with the pixels where ``hole`` is true filled from the rest.

    Pixels outside the hole are returned exactly as they came in.
    """
    if not hole.any():
        return image.copy()
    if hole.all():
        raise ImageError("the mask covers every pixel: there is nothing to fill the hole from")
    if method in ("telea", "navier-stokes"):
        cv2 = _cv2()
        flag = cv2.INPAINT_TELEA if method == "telea" else cv2.INPAINT_NS
        img8 = np.ascontiguousarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
        filled = cv2.inpaint(img8, hole.astype(np.uint8) * 255, float(radius), flag)
        filled = filled.reshape(image.shape).astype(np.float64) / 255.0
    elif method == "biharmonic":
        from skimage.restoration import inpaint_biharmonic

        filled = inpaint_biharmonic(image, hole, channel_axis=-1)
    else:
        raise ValueError(f"unknown inpainter {method!r}")
    return np.where(hole[..., None], np.clip(filled, 0.0, 1.0), image)


def to_hwc(x: torch.Tensor) -> np.ndarray:
    """1×C×H×W tensor -> H×W×C float64 array."""
    return x.detach().float().cpu()[0].numpy().transpose(1, 2, 0).astype(np.float64)


def from_hwc(a: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """H×W×C array -> 1×C×H×W tensor of ``like``'s dtype and device."""
    t = torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None]
    return t.to(device=like.device, dtype=like.dtype)


class ClassicalDenoiser(nn.Module):
    """``forward(x, sigma=None)``: each image denoised on the CPU; ``None`` estimates σ per image."""

    def __init__(self, method: str):
        super().__init__()
        self.method = method

    def forward(self, x: torch.Tensor, sigma: float | None = None) -> torch.Tensor:
        outs = []
        for i in range(x.shape[0]):
            img = to_hwc(x[i : i + 1])
            s = estimate_sigma(img) if sigma is None else sigma
            outs.append(from_hwc(denoise_array(self.method, img, s), x))
        return torch.cat(outs)


class ClassicalInpainter(nn.Module):
    """``forward(x, hole=None)``: ``hole`` is H×W bool; without one nothing is filled (the identity)."""

    def __init__(self, method: str):
        super().__init__()
        self.method = method

    def forward(self, x: torch.Tensor, hole: np.ndarray | None = None, radius: int = 3) -> torch.Tensor:
        if hole is None:
            return x.clone()
        outs = [
            from_hwc(inpaint_array(self.method, to_hwc(x[i : i + 1]), hole, radius), x)
            for i in range(x.shape[0])
        ]
        return torch.cat(outs)


def build(request) -> LoadedModel:
    name = request.card.name
    module = ClassicalDenoiser(name) if name in DENOISERS else ClassicalInpainter(name)
    return LoadedModel(
        card=request.card,
        module=module,
        forward=module,
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # σ estimate and fill are global
        receptive_field=8,
        hyperparameters={"method": name},
    )


def warn_empty_hole() -> None:
    warnings.warn(
        "the hole is empty (no --mask, or a mask/alpha without hole pixels): the output equals the input",
        GeneditWarning,
        stacklevel=2,
    )
