"""genedit hook implementations for colourisation: tasks ``lineart`` (XDoG) and ``colorize`` (paints).

Imported by ``genedit list``: keep it free of torch. Everything heavy is imported in hook bodies.
genedit calls these hooks for this plugin's own cards only.
"""

from __future__ import annotations

from genedit_core.sdk import hookimpl

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
    from .tasks import run_task

    return run_task(request)


@hookimpl
def train(request):
    if request.card.name != "paints":
        return None
    from .training import PaintsTask

    return PaintsTask()


@hookimpl
def evaluate(request):
    from .evaluation import evaluate as run

    return run(request)


@hookimpl
def tiny_weights(card, scale):
    """A 2-feature paints U-Net with random weights, for the conformance check (tests only)."""
    if card.name != "paints":
        return None
    from .network import PaintsUNet

    return {"state_dict": PaintsUNet(features=2).state_dict()}
