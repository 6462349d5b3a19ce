"""Turn a load request into a :class:`LoadedModel` wrapping a :class:`ConvVAE`.

The architecture comes from the tensor shapes; ``config.json`` (or the bundled variant's config)
adds what shapes cannot say: the likelihood, a fixed σ, and which sketch extractor the SVAE was
trained with. Weights written by ``genedit train`` load back unchanged: their keys are the
module's own state-dict keys.
"""

from __future__ import annotations

from typing import Any

import torch

from genedit_core.sdk import LoadedModel, UsageError, WeightsError, load_strict

from ._arch import ConvVAE, infer_config
from .sketch import METHODS


def model_config(request) -> dict[str, Any]:
    cfg = dict(request.weights.config) if request.weights is not None else {}
    return cfg


def build(request) -> LoadedModel:
    card = request.card
    if request.state_dict is None:
        raise WeightsError(
            f"{card.name}: no weights; pass --weights RUN_DIR (a training run) or a variant name"
        )
    cfg = model_config(request)
    arch_hints = cfg.get("arch", {}) if isinstance(cfg.get("arch"), dict) else {}
    origin = request.weights.origin if request.weights is not None else card.name
    try:
        config = infer_config(request.state_dict, arch_hints)
    except ValueError as exc:
        raise WeightsError(f"{origin}: {exc}") from None
    if card.name == "svae" and not config.conditional:
        raise WeightsError(
            f"{origin}: these are unconditional VAE weights; load them with --model vae or beta-vae"
        )
    if card.name != "svae" and config.conditional:
        raise WeightsError(f"{origin}: these are sketch-conditioned weights; load them with --model svae")
    module = ConvVAE(config)
    load_strict(module, request.state_dict, origin)
    device, dtype = request.device, request.dtype  # chosen by the core from --dtype and the card
    module = module.to(device=device, dtype=dtype).eval()
    method = cfg.get("sketch_method", "xdog")
    if method not in METHODS:
        raise UsageError(
            f"{origin}: config.json names sketch method '{method}' (known: {', '.join(METHODS)})"
        )
    hyper = {**config.to_dict(), "sketch_method": method, "objective": cfg.get("objective", {})}

    def forward(x: torch.Tensor) -> torch.Tensor:
        from .ops import prepare, reconstruct

        return reconstruct(module, prepare(module, x))

    return LoadedModel(
        card=card,
        module=module,
        forward=forward,
        device=device,
        dtype=dtype,
        in_channels=3,
        out_channels=config.in_channels,
        tileable=False,
        min_size=1,
        receptive_field=config.image_size,
        hyperparameters=hyper,
        latent_shape=(config.latent_dim,),
    )
