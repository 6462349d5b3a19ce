"""Turn a load request into a :class:`LoadedModel`: a classical method, or a network from weights."""

from __future__ import annotations

from genedit_core.sdk import LoadedModel

from .classical import DENOISERS, INPAINTERS


def build(request) -> LoadedModel:
    name = request.card.name
    if name in DENOISERS or name in INPAINTERS:
        from .classical import build as build_classical

        return build_classical(request)
    from .networks import build_network

    return build_network(request)
