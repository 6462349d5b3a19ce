"""Super-resolution evaluation with the conventions of published tables.

HR references are cropped to a multiple of the scale, degraded with the same anti-aliased bicubic
downscale the trainer uses (:func:`genedit_core.imageops.downscale`, 8-bit rounded), upscaled by the model, and compared on the BT.601 Y
channel with the border cropped by the scale (see :mod:`genedit_core.metrics`). Bicubic upscaling
of the same LR input is measured alongside, so every table carries its own baseline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genedit_core.sdk import (
    downscale,
    reference_images,  # noqa: F401 (re-exported: training and benchmarks read it here)
    sr_metrics,
)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().clamp(0, 1)[0].numpy().transpose(1, 2, 0)


def evaluate_upscaler(upscale: Any, references: list[tuple[str, torch.Tensor]], scale: int) -> dict[str, Any]:
    """``upscale`` maps a 1×3×h×w LR tensor to 1×3×(sh)×(sw); returns the report dict of the hook."""
    from ._arch.resample import Bicubic

    bicubic = Bicubic(scale)
    rows = []
    for name, hr in references:
        h, w = hr.shape[-2:]
        hr = hr[:, : h - h % scale, : w - w % scale][None]
        lr = downscale(hr, scale)
        with torch.inference_mode():
            sr = upscale(lr)
            bic = bicubic(lr)
        target = _hwc(hr)
        p, s = sr_metrics(_hwc(sr), target, scale)
        bp, bs = sr_metrics(_hwc(bic), target, scale)
        rows.append(
            {"image": name, "psnr": p, "ssim": s, "bicubic_psnr": bp, "bicubic_ssim": bs, "gain_db": p - bp}
        )
    keys = ["psnr", "ssim", "bicubic_psnr", "bicubic_ssim", "gain_db"]
    summary = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    return {
        "columns": ["image", *keys],
        "rows": rows,
        "summary": summary,
        "convention": "Y (BT.601), border cropped by scale, 8-bit rounded, bicubic-AA degradation",
    }
