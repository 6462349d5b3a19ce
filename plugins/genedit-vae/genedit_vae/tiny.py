"""Tiny random VAEs per card, for genedit's conformance check (the ``tiny_weights`` hook).

The weights are a :class:`~genedit_vae._arch.ConvVAE` state dict with the ``config.json`` that
``genedit train`` writes next to it, the layout every VAE variant uses, so loading them walks the
same path as a training run. 16×16 images, a 4-dimensional latent and a few features: every task
of every card runs in milliseconds.
"""

from __future__ import annotations

from typing import Any

_SMALL = {"image_size": 16, "latent_dim": 4, "width": 4, "depth": 2, "max_width": 8, "hidden": 16}

#: Architecture of the tiny VAE of each card (also used by the plugin's tests).
TINY: dict[str, dict[str, Any]] = {
    "vae": {"in_channels": 1, **_SMALL},
    "beta-vae": {"in_channels": 3, **_SMALL},
    "svae": {"in_channels": 3, **_SMALL, "cond_channels": 1, "likelihood": "gaussian"},
}


def tiny_weights(card: Any, scale: int | None) -> dict[str, Any] | None:
    """``{"state_dict", "config"}`` of a tiny random VAE for ``card``, as a training run stores it."""
    if card.name not in TINY:
        return None
    from ._arch import ConvVAE, VAEConfig

    module = ConvVAE(VAEConfig.from_dict(TINY[card.name])).eval()
    config = {"genedit_task": card.name, "arch": module.config.to_dict(), "sketch_method": "xdog"}
    return {"state_dict": module.state_dict(), "config": config}
