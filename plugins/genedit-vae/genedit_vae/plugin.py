"""genedit hook implementations for the VAE family.

Imported by ``genedit list``: keep it free of torch. Networks are built in :mod:`genedit_vae.build`,
tasks run in :mod:`genedit_vae.ops`, training lives in :mod:`genedit_vae.training`.
"""

from __future__ import annotations

from genedit_core import hookimpl

from . import PLUGIN_NAME
from .cards import CARDS


def _mine(request) -> bool:
    return request.card.plugin == PLUGIN_NAME


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def load_model(request):
    if not _mine(request):
        return None
    from .build import build

    return build(request)


@hookimpl
def edit(request):
    if not _mine(request) or request.task not in request.card.tasks:
        return None
    from .ops import run_edit

    return run_edit(request)


@hookimpl
def generate(request):
    if not _mine(request):
        return None
    from .ops import run_generate

    return run_generate(request)


@hookimpl
def train(request):
    if not _mine(request):
        return None
    from .training import make_task

    return make_task(request)
