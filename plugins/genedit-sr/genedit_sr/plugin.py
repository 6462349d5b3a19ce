"""genedit hook implementations for super-resolution (task ``upscale``).

Imported by ``genedit list``: keep it free of torch. Networks are built in :mod:`genedit_sr.build`.
"""

from __future__ import annotations

from genedit_core import hookimpl

from .cards import CARDS

PLUGIN_NAME = "sr"


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def load_model(request):
    if request.card.plugin != PLUGIN_NAME:
        return None
    from .build import build

    return build(request)


@hookimpl
def edit(request):
    if request.card.plugin != PLUGIN_NAME or request.task != "upscale":
        return None
    # The networks are left unclamped (they match their reference forwards); edit returns 0–1.
    return request.tiler(request.model, request.image).clamp(0, 1)


@hookimpl
def train(request):
    if request.card.plugin != PLUGIN_NAME:
        return None
    from .training import RECIPES, SRTask

    if request.card.name not in RECIPES:
        return None
    return SRTask(request.card.name)


@hookimpl
def evaluate(request):
    if request.card.plugin != PLUGIN_NAME or request.task != "upscale":
        return None
    from genedit_core.tiling import run_with_oom_retry

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
