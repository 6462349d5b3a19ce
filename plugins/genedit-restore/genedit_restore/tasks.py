"""What ``edit`` does for each task: read the options, then run the model on ``request.image``.

Options are checked before any work (a bad ``--sigma`` stops a batch once, exit 2). Learned
denoisers run through the core's tiler (the receptive field sets the overlap, so tiles leave no
seams); the classical methods see the whole image.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from genedit_core.sdk import ImageError, get_int

from .classical import ClassicalDenoiser, ClassicalInpainter, to_hwc, warn_empty_hole
from .params import check_known, hole_from, parse_sigma, sigma_for, warn_unsuited_sigma


def run_task(request) -> Any:
    card, params = request.card, request.params
    check_known(params, card.task_options(request.task), f"model '{card.name}' ({request.task})")
    if request.task == "denoise":
        return _denoise(request)
    if request.task == "inpaint":
        return _inpaint(request)
    return None


def _denoise(request) -> torch.Tensor:
    model, x = request.model, request.image
    module = model.module
    if isinstance(module, ClassicalDenoiser):
        sigma = sigma_for(to_hwc(x), parse_sigma(request.params))
        return module(x, sigma).clamp(0, 1)
    if "sigma" in model.hyperparameters.get("inputs", ()):  # a noise-level-map network
        sigma = sigma_for(to_hwc(x), parse_sigma(request.params)) / 255.0
        model = dataclasses.replace(model, forward=lambda t: module(t, sigma))
    elif request.params.get("sigma") is not None:  # DnCNN: σ is not an input, only a check
        warn_unsuited_sigma(model, parse_sigma(request.params))
    return request.tiler(model, x).clamp(0, 1)


def fill(model, x: torch.Tensor, hole: np.ndarray, radius: int = 3) -> torch.Tensor:
    """``x`` with ``hole`` (H×W bool) filled by a classical method or the network."""
    if hole.all():
        raise ImageError("the mask covers every pixel: there is nothing to fill the hole from")
    if isinstance(model.module, ClassicalInpainter):
        return model.module(x, hole, radius)
    mask = torch.from_numpy(hole)[None, None].to(device=model.device, dtype=model.dtype)
    with torch.inference_mode():
        y = model.module.fill(x.to(device=model.device, dtype=model.dtype), mask)
    return y.float().cpu()


def _inpaint(request) -> torch.Tensor:
    model, x = request.model, request.image
    alpha = getattr(request, "alpha", None)
    hole = hole_from(request.params, alpha, tuple(x.shape[-2:]))
    if not hole.any():
        warn_empty_hole()
        return x.clone()
    y = fill(model, x, hole, get_int(request.params, "radius", 3, lo=1, hi=64)).clamp(0, 1)
    if alpha is not None and not request.params.get("mask"):
        # The transparent pixels were the hole: they are filled now, so the output is opaque.
        y = torch.cat([y, torch.ones_like(y[:, :1])], dim=1)
    return y
