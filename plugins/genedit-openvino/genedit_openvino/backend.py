"""The ``openvino`` entry point of ``genedit.backends``: ``convert(model) -> LoadedModel``.

genedit_core.load builds the model as for torch (any weights, the core's device and dtype) and
hands it here. Why a module and not a class: the entry point is loaded only when ``--backend
openvino`` is asked for, and this module imports neither torch nor openvino, so even that costs
nothing until the conversion itself runs (:mod:`genedit_openvino.runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genedit_core.sdk import LoadedModel

NAME = "openvino"


def convert(model: LoadedModel) -> LoadedModel:
    """The model running in OpenVINO on the CPU, or ``model`` itself after one warning saying why not.

    See :func:`genedit_openvino.runtime.to_openvino` for what is converted, cached and checked.
    """
    from .runtime import to_openvino

    return to_openvino(model)
