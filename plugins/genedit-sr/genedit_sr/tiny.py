"""Tiny random networks per card, for genedit's conformance check (the ``tiny_weights`` hook).

The weights come out in the plugin's own layout, the BasicSR-style names of :mod:`genedit_sr._arch`
that bundled weights and ``genedit train`` runs use (:func:`genedit_sr.layouts.make_module`), so
loading them walks layout detection, conversion and the strict load like a real file. A few
features and one block each: every card loads and upscales in milliseconds. The interpolating
cards (bicubic, lanczos) have no weights and get none.
"""

from __future__ import annotations

from typing import Any

#: Hyperparameters of the tiny network of each architecture (the scale is the one under test).
TINY: dict[str, dict[str, Any]] = {
    "edsr": {"num_feat": 4, "num_block": 1},
    "rrdb": {"num_feat": 4, "num_block": 1, "num_grow_ch": 2},
    "srcnn": {"channels": 1, "features": (4, 4), "kernels": (3, 1, 3)},
    "espcn": {"features": (4, 4), "kernels": (3, 3, 3)},
    "vdsr": {"channels": 3, "num_feat": 4, "num_layers": 3},
}


def tiny_weights(card: Any, scale: int | None) -> dict[str, Any] | None:
    """``{"state_dict", "config"}`` of a tiny random network for ``card`` at ``scale``."""
    from .layouts import ARCH_FOR_CARD, make_module

    arch = ARCH_FOR_CARD.get(card.name)
    if arch is None:
        return None
    scale = int(scale or 2)
    module = make_module(arch, {**TINY[arch], "scale": scale})
    # SRCNN and VDSR refine a bicubic upscale, so their weights do not fix the scale: config.json does.
    return {"state_dict": module.state_dict(), "config": {"arch": arch, "scale": scale}}
