"""Turn a load request into a :class:`LoadedModel`: pick the layout, build the network, wrap it."""

from __future__ import annotations

import torch

from genedit_core.model import LoadedModel


def build(request) -> LoadedModel:
    card = request.card
    if card.name in ("bicubic", "lanczos"):
        return _resampler(request)
    from .layouts import build_network

    return build_network(request)


def _resampler(request) -> LoadedModel:
    from ._arch.resample import Bicubic, Lanczos

    scale = request.scale or 2
    module = (Bicubic if request.card.name == "bicubic" else Lanczos)(scale).to(request.device)
    return LoadedModel(
        card=request.card,
        module=module,
        forward=module,
        device=request.device,
        dtype=torch.float32 if request.device.type == "cpu" else request.dtype,
        scale=scale,
        receptive_field=4,
    )
