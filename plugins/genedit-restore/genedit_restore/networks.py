"""Build a denoising network from ``request.state_dict``: detect the layout, convert, load strictly."""

from __future__ import annotations

import torch

from genedit_core.sdk import LoadedModel, WeightsError, load_strict

from .layouts import LAYOUTS, LayoutMismatch, find_layout, make_module, other_card


def build_network(request) -> LoadedModel:
    card = request.card
    origin = request.weights.origin if request.weights is not None else card.name
    state = request.state_dict
    if not state:
        raise WeightsError(f"model '{card.name}' needs weights; pass --weights PATH or a variant name")
    config = dict(request.weights.config) if request.weights is not None else {}
    layout = find_layout(card.name, state, config.get("layout"))
    if layout is None:
        other = other_card(state, card.name)
        if other is not None:
            raise WeightsError(
                f"{origin}: holds {other} weights, not {card.name} weights; try --model {other}"
            )
        shown = ", ".join(sorted(state)[:4])
        known = ", ".join(layout.name for layout in LAYOUTS[card.name])
        raise WeightsError(
            f"{origin}: no {card.name} checkpoint layout matches its keys ({shown}); known: {known}"
        )
    try:
        canonical, hp = layout.convert(state)
        module = make_module(card.name, hp)
    except (LayoutMismatch, ValueError) as exc:
        raise WeightsError(f"{origin}: read as {layout.name}, but {exc}") from None
    load_strict(module, canonical, origin, note=f"read as {layout.name}, key names after conversion")
    module = module.eval().to(device=request.device, dtype=request.dtype)
    if card.channels_last:
        module = module.to(memory_format=torch.channels_last)
    info = {k: config[k] for k in ("sigma", "sigma_range") if k in config}
    if card.name == "ffdnet":
        info["inputs"] = ("image", "sigma")  # forward(x, σ/255): the noise-level map
    if card.name == "gated-unet":
        return LoadedModel(
            card=card,
            module=module,
            # generic tools (bench, export) get the network with an empty hole: the identity
            forward=lambda x: module.fill(x, x.new_zeros(x.shape[0], 1, *x.shape[-2:])),
            device=request.device,
            dtype=request.dtype,
            tileable=False,  # the hole may need context from anywhere in the image
            receptive_field=module.receptive_field,
            weights=request.weights,
            hyperparameters={"layout": layout.name, **hp},
        )
    return LoadedModel(
        card=card,
        module=module,
        forward=module,
        device=request.device,
        dtype=request.dtype,
        receptive_field=module.receptive_field,
        size_multiple=2 if card.name == "ffdnet" else 1,  # tiles keep the 2×2 unshuffle grid in phase
        activation_bytes_per_pixel=module.activation_bytes_per_pixel,
        weights=request.weights,
        hyperparameters={"layout": layout.name, **hp, **info},
    )
