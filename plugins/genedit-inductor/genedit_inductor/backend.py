"""The ``torch-compile`` entry point of ``genedit.backends``: ``convert(model) -> LoadedModel``.

genedit_core.load builds the model as for torch (any weights, the core's device and dtype) and
hands it here. A module rather than a class, and free of torch at import, so that finding the entry
point costs nothing; the compiler is imported only when a model is converted
(:mod:`genedit_inductor.runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genedit_core.sdk import LoadedModel

NAME = "torch-compile"


def convert(model: LoadedModel) -> LoadedModel:
    """The model running as an AOTInductor program on the CPU, or ``model`` after one warning why not.

    See :func:`genedit_inductor.runtime.to_compiled` for what is compiled, checked and cached.
    """
    from .runtime import to_compiled

    return to_compiled(model)
