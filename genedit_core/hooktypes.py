"""The shapes of what crosses the plugin boundary: hook return values and the callables hooks get.

:mod:`genedit_core.hookspecs` says *when* each hook is called; this module says *what* goes in and
out, so that a plugin author's type checker (and a reader) sees the contract without reading the
core. Dicts that hooks return are :class:`~typing.TypedDict` s (a plain dict literal satisfies
them), callables are :class:`~typing.Protocol` s. Objects a hook builds are concrete classes it
instantiates: :class:`~genedit_core.model.LoadedModel` from ``load_model`` and a
:class:`~genedit_core.training.TrainTask` subclass from ``train``.

Torch-free: tensors are named for type checkers only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Union

if TYPE_CHECKING:
    import torch

    from .cards import ModelCard
    from .datasets import SampleSet
    from .model import LoadedModel
    from .options import Option
    from .weights import ResolvedWeights

__all__ = [
    "Backend",
    "EditResult",
    "EvalReport",
    "ExportReport",
    "ModuleBackend",
    "RegisterDataset",
    "RegisterMethod",
    "RegisterModel",
    "Tiler",
    "TinyWeights",
]


class EvalReport(TypedDict):
    """What ``evaluate`` returns: ``genedit eval`` prints ``rows`` as a table and ``summary`` below it.

    ``columns`` orders the keys of each row; a row is one image or one sample set; ``summary`` holds
    the means (or the one figure) a README or model card quotes.
    """

    columns: list[str]
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


class _ExportPath(TypedDict):
    path: str


class ExportReport(_ExportPath, total=False):
    """What ``export`` may return instead of a bare path: the file written and how it was checked.

    ``checks`` lists ``{"input": shape, "max_abs_diff": float}`` per verification input; the CLI
    prints each, then ``max_abs_diff`` (the largest) and the path.
    """

    format: str
    checks: list[dict[str, Any]]
    max_abs_diff: float
    tolerance: float


class _TinyState(TypedDict):
    state_dict: Mapping[str, Any]


class TinyWeights(_TinyState, total=False):
    """What ``tiny_weights`` returns: random weights of a tiny configuration, in the default layout.

    ``state_dict`` maps key names to tensors exactly as the card's default weights file stores them
    (so loading them walks the same path as real weights); ``config`` is written next to them as
    ``config.json`` and reaches ``load_model`` as ``request.weights.config``, for what the shapes
    cannot say.
    """

    config: Mapping[str, Any]


EditResult = Union["torch.Tensor", "list[torch.Tensor]"]
"""What ``edit`` returns: one N×C×H×W (or C×H×W) float tensor in 0–1, or a list of them (several
outputs for one input, written ``_000``, ``_001``, ...)."""


class RegisterModel(Protocol):
    """The ``register`` callback of ``register_models``: call it once per card."""

    def __call__(self, card: ModelCard) -> None: ...


class RegisterMethod(Protocol):
    """The ``register`` callback of ``register_methods``.

    ``kind`` is ``"optimize"`` or ``"export"``; ``options`` declares every ``--key value`` the method
    reads from ``request.params``.
    """

    def __call__(self, kind: str, name: str, summary: str, options: Iterable[Option] = ()) -> None: ...


class RegisterDataset(Protocol):
    """The ``register`` callback of ``register_datasets``: call it once per ``builtin:NAME`` set."""

    def __call__(self, sample_set: SampleSet) -> None: ...


class Tiler(Protocol):
    """``request.tiler`` of an ``EditRequest``: run an image-to-image model over ``x`` tile by tile.

    Tiles overlap enough to be seamless, run in the model's dtype and memory format, and shrink on
    out-of-memory; the result is the model's output for the whole of ``x``.
    """

    def __call__(self, model: LoadedModel, x: torch.Tensor) -> torch.Tensor: ...


class Backend(Protocol):
    """An entry point of group ``genedit.backends``: run an exported file in another runtime.

    :func:`genedit_core.load` calls it with the local file it resolved (from a path, a folder or
    ``hf://``), the card, the ``--device`` asked for, and ``weights``, the file's
    :class:`~genedit_core.weights.ResolvedWeights` (origin, sha256, config), so the backend neither
    resolves nor hashes it again.
    """

    def __call__(
        self,
        path: str | Path,
        *,
        card: ModelCard | None = None,
        device: str = "cpu",
        weights: ResolvedWeights | None = None,
    ) -> LoadedModel: ...


class ModuleBackend(Protocol):
    """An entry point of group ``genedit.backends`` that runs a built network in another runtime.

    Unlike :class:`Backend`, it needs no exported file: :func:`genedit_core.load` builds the model
    as for torch (any weights, ``--dtype`` and ``--device`` chosen as usual) and hands it over. The
    entry point is any object with this method (a module whose ``convert`` is a function will do).
    ``convert`` returns the model its runtime runs, with ``backend`` set to the runtime's name, or
    ``model`` unchanged, after one :class:`~genedit_core.api.GeneditWarning` saying why, when the
    network does not convert, so the user still gets a result.
    """

    def convert(self, model: LoadedModel) -> LoadedModel: ...
