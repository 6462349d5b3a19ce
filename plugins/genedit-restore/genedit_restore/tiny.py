"""Tiny random networks per card, for genedit's conformance check (the ``tiny_weights`` hook).

The weights come out in the layout bundled weights and ``genedit train`` runs use (KAIR's, BN
folded), so loading them walks layout detection, conversion and the strict load like a real file.
The classical cards need no weights and get none.
"""

from __future__ import annotations

from typing import Any


def tiny_weights(card: Any) -> dict[str, Any] | None:
    from .layouts import TINY, make_module

    hp = TINY.get(card.name)
    if hp is None:
        return None
    layout = {"ffdnet": "ffdnet-kair", "gated-unet": "gated-unet"}.get(card.name, "dncnn-kair")
    return {"state_dict": make_module(card.name, hp).state_dict(), "config": {"layout": layout}}
