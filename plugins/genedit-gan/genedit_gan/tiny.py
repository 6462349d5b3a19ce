"""Tiny random generators per card, for genedit's conformance check (the ``tiny_weights`` hook).

The weights come out in the layout the plugin's own trainer and bundled files use (the modules'
state-dict names: ``net.*``, ``main.*``, rosinality-style StyleGAN2, pytorch-pretrained-BigGAN-style),
with the ``config.json`` a trainer run carries (``arch``), so loading them walks the same path as a
``genedit train`` run. A few features wide: every card loads and samples in milliseconds.
"""

from __future__ import annotations

from typing import Any

#: Hyperparameters of the tiny generator of each card (also used by the plugin's tests).
TINY: dict[str, dict[str, Any]] = {
    "dcgan": {"nz": 8, "ngf": 4, "nc": 1, "size": 16},
    "gan": {"nz": 8, "hidden": (16,), "nc": 1, "size": 8},
    "stylegan2": {"size": 16, "style_dim": 8, "n_mlp": 2, "channels": [8, 8, 4]},
    "biggan": {
        "z_dim": 9,
        "embed_dim": 4,
        "num_classes": 3,
        "channel_width": 4,
        "layers": [(True, 4, 2), (True, 2, 1)],
        "attention_pos": 1,
        "n_stats": 1,
        "hierarchical": True,
        "img_channels": 3,
    },
}


def tiny_module(name: str) -> Any:
    """A random-init generator for card ``name`` (eval mode), built from :data:`TINY`."""
    hp = TINY[name]
    if name == "dcgan":
        from ._arch.dcgan import DCGANGenerator

        return DCGANGenerator(**hp).eval()
    if name == "gan":
        from ._arch.mlp import MLPGenerator

        return MLPGenerator(**hp).eval()
    if name == "stylegan2":
        from ._arch.stylegan2 import StyleGAN2Generator

        g = StyleGAN2Generator(**hp)
        g.compute_latent_avg(256)
        return g.eval()
    from ._arch.biggan import BigGAN

    return BigGAN(**hp).eval()


def tiny_weights(card: Any, scale: int | None) -> dict[str, Any] | None:
    """``{"state_dict", "config"}`` of a tiny generator for ``card``, or None for a card we do not know."""
    if card.name not in TINY:
        return None
    module = tiny_module(card.name)
    arch = module.hyperparameters() if hasattr(module, "hyperparameters") else dict(TINY[card.name])
    return {
        "state_dict": module.state_dict(),
        "config": {"genedit_task": card.name, "model": card.name, "arch": _jsonable(arch)},
    }


def _jsonable(value: Any) -> Any:
    """config.json holds lists, not tuples."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
