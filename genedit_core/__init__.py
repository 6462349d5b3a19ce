"""genedit core: plugin manager, model cards, weights, devices, image I/O and tiling.

This package imports no torch at import time; the names below load lazily so that
``genedit list`` and ``genedit --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .cards import ModelCard, WeightFile, WeightVariant
from .errors import GeneditError
from .hookspecs import hookimpl

if TYPE_CHECKING:
    from .api import get_card, list_models, load
    from .batch import BatchReport, run_batch
    from .model import LoadedModel

__all__ = [
    "BatchReport",
    "GeneditError",
    "LoadedModel",
    "ModelCard",
    "WeightFile",
    "WeightVariant",
    "__version__",
    "get_card",
    "hookimpl",
    "list_models",
    "load",
    "run_batch",
]

_LAZY = {
    "load": "api",
    "get_card": "api",
    "list_models": "api",
    "LoadedModel": "model",
    "run_batch": "batch",
    "BatchReport": "batch",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'genedit_core' has no attribute '{name}'")
