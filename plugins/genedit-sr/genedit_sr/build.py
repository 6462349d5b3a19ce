"""Turn a load request into a :class:`LoadedModel`: pick the layout, build the network, wrap it."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import torch

from genedit_core.sdk import LoadedModel, UsageError, WeightsError, load_strict

from .layouts import ARCH_FOR_CARD, ARCHITECTURES, CARD_FOR_ARCH, LAYOUTS, LayoutMismatch, make_module

log = logging.getLogger("genedit")


def build(request) -> LoadedModel:
    card = request.card
    if card.name in ("bicubic", "lanczos"):
        return _resampler(request)
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
        dtype=request.dtype,  # chosen by the core from --dtype and the card
        scale=scale,
        receptive_field=4,
        activation_bytes_per_pixel=module.activation_bytes_per_pixel,
    )


def build_network(request) -> LoadedModel:
    """Detect the layout of ``request.state_dict``, build our network, load it, wrap it."""
    card = request.card
    arch = ARCH_FOR_CARD.get(card.name)
    if arch not in ARCHITECTURES:
        raise WeightsError(f"model '{card.name}': the sr plugin has no network for it")
    origin = request.weights.origin if request.weights is not None else card.name
    state = request.state_dict
    if not state:
        raise WeightsError(f"model '{card.name}' needs weights; pass --weights PATH or a variant name")
    config = dict(request.weights.config) if request.weights is not None else {}
    layout = LAYOUTS.find(state, arch, hint=config.get("layout"))
    if layout is None:
        raise _no_layout_error(state, arch, origin, card.name)
    try:
        canonical, hp = layout.convert(state, config)
    except LayoutMismatch as exc:
        raise WeightsError(f"{origin}: read as {layout.name}, but {exc}") from None
    hp["scale"] = _pick_scale(hp, request, config, origin, arch)
    try:
        module = make_module(arch, hp)
    except ValueError as exc:
        raise WeightsError(f"{origin}: read as {layout.name}, but {exc}") from None
    load_strict(module, canonical, origin, note=f"read as {layout.name}, key names after conversion")
    module = module.eval().to(device=request.device, dtype=request.dtype)
    if card.channels_last:
        module = module.to(memory_format=torch.channels_last)
    log.debug("%s: %s layout, %s", origin, layout.name, hp)
    return LoadedModel(
        card=card,
        module=module,
        forward=module,
        device=request.device,
        dtype=request.dtype,
        scale=hp["scale"],
        size_multiple=module.size_multiple,
        receptive_field=module.receptive_field,
        activation_bytes_per_pixel=module.activation_bytes_per_pixel,
        weights=request.weights,
        hyperparameters={"layout": layout.name, "arch": arch, **hp},
    )


def _few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(sorted(keys)[:n])
    return shown + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _no_layout_error(
    state: Mapping[str, torch.Tensor], arch: str, origin: str, card_name: str
) -> WeightsError:
    other = LAYOUTS.find(state)
    if other is not None:
        return WeightsError(
            f"{origin}: holds {other.name} weights (network: {other.arch}), not {card_name} weights; "
            f"try --model {CARD_FOR_ARCH[other.arch]}"
        )
    return WeightsError(
        f"{origin}: no {card_name} checkpoint layout matches its keys ({_few(list(state))}); "
        f"known layouts: {', '.join(LAYOUTS.names(arch))}"
    )


def _pick_scale(hp: dict[str, Any], request, config: Mapping[str, Any], origin: str, arch: str) -> int:
    """The weights' own scale when their shapes fix it; else the asked-for one, else config.json's."""
    inferred = hp.get("scale")
    if inferred is not None:
        if request.scale is not None and request.scale != inferred:
            raise UsageError(f"{origin}: weights are x{inferred}, but x{request.scale} was asked for")
        return int(inferred)
    if request.scale is not None:
        return int(request.scale)
    if config.get("scale"):
        return int(config["scale"])
    raise UsageError(f"{origin}: {arch} weights do not fix the scale; pass --scale")
