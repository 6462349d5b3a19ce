"""Images for quality checks and calibration, from a folder or genedit's bundled sample sets.

Upscalers are scored the way SR papers do: a high-resolution crop is the target, its anti-aliased
bicubic downscale is the input, PSNR is on Y with a ``scale``-pixel border cropped. Models without
a ground truth (other tasks) are scored by fidelity: PSNR of the optimized output against the
original model's output. Held-out photos are used for evaluation; the training split calibrates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from genedit_core.sdk import UsageError

EVAL_DEFAULT = "builtin:skimage-photos:heldout"
CALIB_DEFAULT = "builtin:skimage-photos"


@dataclass
class EvalSet:
    name: str
    inputs: list[torch.Tensor]  # each 1×C×h×w in 0–1
    targets: list[torch.Tensor] | None  # each 1×C×H×W in 0–1, or None (fidelity only)


def _images(spec: str) -> list[torch.Tensor]:
    from genedit_core.sdk import resolve_data

    try:
        data = resolve_data(spec)
    except ImportError as exc:
        raise UsageError(
            f"{spec}: needs an optional package ({exc.name}); pass a folder of images instead"
        ) from None
    out = []
    for i in range(len(data)):
        item = data[i]
        if isinstance(item, (tuple, list)):
            item = item[0]
        out.append(item[None] if item.ndim == 3 else item)
    return out


def _centre_crop(x: torch.Tensor, size: int, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ch = min(size, h) - min(size, h) % multiple
    cw = min(size, w) - min(size, w) % multiple
    top, left = (h - ch) // 2, (w - cw) // 2
    return x[..., top : top + ch, left : left + cw]


def latent_batches(model: Any, count: int, batch: int, seed: int) -> list[torch.Tensor]:
    """Fixed standard-normal latents for generators (``model.latent_shape``)."""
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, *model.latent_shape, generator=g) for _ in range(count)]


def eval_set(model: Any, spec: str | None, crop: int, count: int) -> EvalSet | None:
    if spec in ("none", "off", ""):
        return None
    if getattr(model, "takes_latent", False):  # a generator: fidelity to its own outputs on fixed latents
        return EvalSet(f"{count}×16 fixed latents (seed 0)", latent_batches(model, count, 16, seed=0), None)
    spec = spec or EVAL_DEFAULT
    try:
        images = _images(spec)[:count]
    except ImportError:
        return None
    if "upscale" in model.card.tasks and model.scale > 1:
        from genedit_core.sdk import downscale

        hrs = [_centre_crop(im[:, : model.in_channels], crop, model.scale) for im in images]
        lrs = [downscale(hr, model.scale) for hr in hrs]
        return EvalSet(spec, lrs, hrs)
    return EvalSet(spec, [_centre_crop(im[:, : model.in_channels], crop, 1) for im in images], None)


def calibration_images(model: Any, spec: str | None) -> list[torch.Tensor]:
    """Whole model-input images from the training split (bicubic-downscaled for upscalers)."""
    scale = model.scale if "upscale" in model.card.tasks else 1
    out = []
    for im in _images(spec or CALIB_DEFAULT):
        im = im[:, : model.in_channels]
        if scale > 1:
            from genedit_core.sdk import downscale

            im = downscale(
                im[..., : im.shape[-2] - im.shape[-2] % scale, : im.shape[-1] - im.shape[-1] % scale], scale
            )
        out.append(im)
    return out


def calibration_batches(
    model: Any, spec: str | None, size: int, count: int, seed: int = 0
) -> list[torch.Tensor]:
    """``count`` random ``size``² model inputs from the training split (LR crops for upscalers).

    Generators are calibrated on random latents instead (``spec`` and ``size`` do not apply).
    """
    if getattr(model, "takes_latent", False):
        return latent_batches(model, count, 1, seed=1000 + seed)
    images = calibration_images(model, spec)
    g = torch.Generator().manual_seed(seed)
    batches = []
    for i in range(count):
        im = images[i % len(images)]
        h, w = im.shape[-2:]
        s = min(size, h, w)
        top = int(torch.randint(0, h - s + 1, (1,), generator=g))
        left = int(torch.randint(0, w - s + 1, (1,), generator=g))
        batches.append(im[..., top : top + s, left : left + s].contiguous())
    return batches


def score(
    forward: Any, data: EvalSet, model: Any, reference: list[torch.Tensor] | None = None
) -> dict[str, float]:
    """Mean PSNR (dB) against the targets, and against ``reference`` outputs when given."""
    from genedit_core.sdk import psnr, sr_metrics

    outputs = []
    with torch.inference_mode():
        for x in data.inputs:
            y = forward(x.to(model.device, model.dtype)).float().clamp(0, 1).cpu()
            outputs.append(y)
    result: dict[str, float] = {}
    if data.targets is not None:
        vals = [sr_metrics(_hwc(y), _hwc(t), model.scale)[0] for y, t in zip(outputs, data.targets)]
        result["psnr_y"] = sum(vals) / len(vals)
    if reference is not None:
        vals = [
            psnr(_hwc(y[i : i + 1]) * 255, _hwc(r[i : i + 1]) * 255)
            for y, r in zip(outputs, reference)
            for i in range(y.shape[0])
        ]
        result["fidelity_psnr"] = sum(vals) / len(vals)
    result["_outputs"] = outputs  # type: ignore[assignment]
    return result


def _hwc(x: torch.Tensor):
    import numpy as np

    return np.ascontiguousarray(x[0].permute(1, 2, 0).numpy())
