"""Turn a load request into a :class:`LoadedModel`: XDoG (no weights) or the paints U-Net."""

from __future__ import annotations

import torch
from torch import nn

from genedit_core.sdk import LoadedModel, WeightsError


class XDoG(nn.Module):
    """XDoG as a module, so generic tools (bench, export) can run it; parameters come per call."""

    def forward(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        from genedit_core.sdk import xdog

        return xdog(x, **params)


def build(request) -> LoadedModel:
    card = request.card
    if card.name == "xdog":
        module = XDoG()
        return LoadedModel(
            card=card,
            module=module,
            forward=module,
            device=request.device,
            dtype=request.dtype,
            tileable=False,  # a few convolutions over the whole image: cheap, and no seams
            weights=request.weights,
        )
    if card.name in ("flat", "levin"):
        from .flat import FlatFill
        from .levin import LevinFill

        flat = FlatFill() if card.name == "flat" else LevinFill()
        return LoadedModel(
            card=card,
            module=flat,
            forward=lambda x: flat(
                x.mean(1, keepdim=True),
                x.new_zeros(x.shape[0], 3, *x.shape[-2:]),
                x.new_zeros(x.shape[0], 1, *x.shape[-2:]),
            ),  # fmt: skip
            device=request.device,
            dtype=request.dtype,
            tileable=False,  # a region may span the whole image
            weights=request.weights,
        )
    from .network import from_state

    if not request.state_dict:
        raise WeightsError(
            f"model '{card.name}' has no bundled weights yet: train it (genedit train {card.name}) "
            "and pass --weights PATH"
        )
    origin = request.weights.origin if request.weights is not None else card.name
    module = from_state(request.state_dict, origin).eval().to(device=request.device, dtype=request.dtype)

    def no_hints(x: torch.Tensor) -> torch.Tensor:
        from genedit_core.sdk import luminance

        n, _, h, w = x.shape
        return module(luminance(x), x.new_zeros(n, 3, h, w), x.new_zeros(n, 1, h, w))

    return LoadedModel(
        card=card,
        module=module,
        forward=no_hints,  # generic tools (bench, export) get the network without hints
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # a hint colours its whole region, wherever the region reaches
        weights=request.weights,
        hyperparameters={"features": module.features, "levels": module.levels, "guided": module.guided},
    )
