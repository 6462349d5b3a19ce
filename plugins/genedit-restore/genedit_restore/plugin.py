"""genedit hook implementations for restoration: tasks ``denoise`` and ``inpaint``.

Imported by ``genedit list``: keep it free of torch. Networks and the classical methods are built in
:mod:`genedit_restore.build`. genedit calls these hooks for this plugin's own cards only.
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
    from .training import RECIPES, DenoiseTask, InpaintTask

    if request.card.name not in RECIPES:
        return None
    return (InpaintTask if "inpaint" in request.card.tasks else DenoiseTask)(request.card.name)


@hookimpl
def evaluate(request):
    from .evaluation import evaluate

    return evaluate(request)


@hookimpl
def tiny_weights(card, scale):
    """Random weights of a tiny configuration, for genedit's conformance check (tests only)."""
    from .tiny import tiny_weights as make

    return make(card)
