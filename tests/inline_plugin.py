"""Pieces of the small plugins tests register inline: card registration and weight-free models.

A test plugin is an object with hook methods (pluggy collects them through the class hierarchy,
so a subclass of :class:`CardsPlugin` writes only the hooks its test is about). Model hooks go to
the card's owner alone (``GeneditPlugins.owner_hook``), so these plugins never check whose card a
request is for. torch is imported inside the model builders: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genedit_core import hookimpl
from genedit_core.cards import ModelCard


class CardsPlugin:
    """Registers the cards it is given; its name is ``name``, else the first card's."""

    def __init__(self, *cards: ModelCard, name: str | None = None) -> None:
        self.cards = cards
        self.name = name or cards[0].name

    @hookimpl
    def register_models(self, register):
        for card in self.cards:
            register(card)


def passthrough_model(request: Any, forward: Callable = lambda x: x, **fields: Any) -> Any:
    """A model with no weights for ``request``'s card: ``forward`` (the identity unless given), in
    float32 unless ``fields`` say otherwise (any other :class:`LoadedModel` field too)."""
    import torch

    from genedit_core.model import LoadedModel

    base = {"module": None, "forward": forward, "device": request.device, "dtype": torch.float32}
    return LoadedModel(card=request.card, **{**base, **fields})


def nearest_x2_model(request: Any) -> Any:
    """A model with no weights for ``request``'s card: nearest-neighbour x2, in the asked dtype."""
    import torch

    net = torch.nn.Upsample(scale_factor=2, mode="nearest")
    return passthrough_model(request, net, module=net, dtype=request.dtype, scale=2)
