"""genedit hook implementations for GANs (task ``generate``; training and the ``generate`` metric).

Imported by ``genedit list``: keep it free of torch. Networks are built in :mod:`genedit_gan.build`,
sampling lives in :mod:`genedit_gan.sampling`, training tasks in :mod:`genedit_gan.training`. genedit
calls these hooks for this plugin's own cards only, so none of them asks whose card it is.
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
def generate(request):
    from .sampling import generate_images

    return generate_images(request.model, request.seeds, request.params)


@hookimpl
def train(request):
    from .training import task_for

    return task_for(request.card.name)


@hookimpl
def evaluate(request):
    if request.task != "generate":
        return None
    from .evaluation import evaluate_generator

    return evaluate_generator(request.model, request.data, request.params)


@hookimpl
def tiny_weights(card, scale):
    """Random weights of a tiny configuration, for genedit's conformance check (tests only)."""
    from .tiny import tiny_weights as make

    return make(card, scale)
