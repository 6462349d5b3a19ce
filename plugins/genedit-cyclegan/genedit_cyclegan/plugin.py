"""genedit hook implementations for CycleGAN (task ``translate``; training).

Imported by ``genedit list``: keep it free of torch. Networks are built in
:mod:`genedit_cyclegan.build`, the training task lives in :mod:`genedit_cyclegan.training`.
genedit calls these hooks for this plugin's own card only.
"""

from __future__ import annotations

from genedit_core.sdk import get_choice, hookimpl

from .cards import CARDS


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def load_model(request):
    from .build import build

    return build(request)


@hookimpl
def edit(request):
    if request.task != "translate":
        return None
    from .build import DIRECTIONS, directed

    direction = get_choice(request.params, "direction", "a2b", DIRECTIONS)
    return request.tiler(directed(request.model, direction), request.image).clamp(0, 1)


@hookimpl
def train(request):
    from .training import CycleGANTask

    return CycleGANTask()


@hookimpl
def tiny_weights(card, scale):
    """Random weights of a tiny generator pair, for genedit's conformance check (tests only)."""
    from .build import tiny_pair

    return {"state_dict": tiny_pair().state_dict()}
