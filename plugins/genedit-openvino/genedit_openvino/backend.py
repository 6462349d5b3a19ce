"""The ``openvino`` entry point of ``genedit.backends``: ``convert(model) -> LoadedModel``, and the
warm path's ``warm_fields(model)`` / ``load_warm(fields)`` (:mod:`genedit_openvino.warm`).

genedit_core.load builds the model as for torch (any weights, the core's device and dtype) and
hands it here. Why a module and not a class: the entry point is loaded only when ``--backend
openvino`` is asked for, and this module imports neither torch nor openvino, so even that costs
nothing until the conversion itself runs (:mod:`genedit_openvino.runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np

    from genedit_core.sdk import LoadedModel

NAME = "openvino"


def convert(model: LoadedModel) -> LoadedModel:
    """The model running in OpenVINO on the CPU, or ``model`` itself after one warning saying why not.

    See :func:`genedit_openvino.runtime.to_openvino` for what is converted, cached and checked.
    """
    from .runtime import to_openvino

    return to_openvino(model)


def warm_fields(model: LoadedModel) -> dict[str, Any] | None:
    """What a later process needs to run ``model``'s cached program without torch (or ``None``)."""
    from .warm import warm_fields as fields

    return fields(model)


def load_warm(fields: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray] | None:
    """The cached program of ``fields`` as a numpy function, with no torch imported; ``None`` if gone."""
    from .warm import load_warm as load

    return load(fields)
