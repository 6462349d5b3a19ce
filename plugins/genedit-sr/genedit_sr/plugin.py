"""genedit hook implementations for super-resolution (task ``upscale``).

Imported by ``genedit list``: keep it free of torch. Networks are built in :mod:`genedit_sr.build`.
genedit calls these hooks for this plugin's own cards only, so none of them asks whose card it is.
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
    if request.task != "upscale":
        return None
    # The networks are left unclamped (they match their reference forwards); edit returns 0–1.
    return request.tiler(request.model, request.image).clamp(0, 1)


@hookimpl
def train(request):
    from .training import RECIPES, SRTask

    if request.card.name not in RECIPES:
        return None
    return SRTask(request.card.name)


@hookimpl
def evaluate(request):
    if request.task != "upscale":
        return None
    from genedit_core.sdk import run_with_oom_retry

    from .evaluation import evaluate_upscaler, reference_images

    model = request.model
    return evaluate_upscaler(
        lambda x: run_with_oom_retry(model, x, "auto"), reference_images(request.data), model.scale
    )


@hookimpl
def tiny_weights(card, scale):
    """Random weights of a tiny configuration, for genedit's conformance check (tests only)."""
    from .tiny import tiny_weights as make

    return make(card, scale)
