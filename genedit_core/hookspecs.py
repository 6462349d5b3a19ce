"""The plugin API of genedit: every hook a plugin may implement.

A plugin is a module (or object) registered under the ``genedit`` entry-point group. It implements
any subset of the hooks below, decorated with :data:`hookimpl`. The module is imported when genedit
starts, including for ``genedit --help`` and ``genedit list``, so it must stay light: import torch
and your networks *inside* hook bodies, never at module top level.

Dispatch rule for the task hooks. The model hooks (``load_model``, ``edit``, ``generate``,
``train``, ``evaluate``) go to the plugin that registered ``request.card`` and to no other, so they
never ask "is this card mine?": a plugin returns ``None`` only for a task or model of its own that it
does not serve. The hooks whose ownership is open (``optimize``, ``export``, ``transform_model``:
any plugin may bring a method or format) are *first-result* hooks, the pytest convention: genedit
calls every plugin's implementation, newest registration first, and takes the first answer that is
not ``None``; a plugin says "not mine" by returning ``None``, decided from the method or format
name. Raising an exception means "mine, and it failed".
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import torch

    from .cards import ModelCard
    from .hooktypes import (
        EditResult,
        EvalReport,
        ExportReport,
        RegisterDataset,
        RegisterMethod,
        RegisterModel,
        TinyWeights,
    )
    from .model import LoadedModel
    from .requests import (
        EditRequest,
        EvalRequest,
        ExportRequest,
        GenerateRequest,
        LoadRequest,
        OptimizeRequest,
        TrainRequest,
        TransformRequest,
    )
    from .training import TrainTask

PROJECT = "genedit"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_models(register: RegisterModel) -> None:
    """Declare the models this plugin provides by calling ``register(card)`` once per card.

    Cards are plain metadata (no torch). Names and aliases are global: registering a name that
    another plugin already owns is an error that names both plugins, and the whole call is rolled
    back so the registry never holds half of a plugin.
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add sub-commands to ``genedit`` with ``@app.command()`` (``app`` is a Typer app).

    Called once per plugin, on its own, every time genedit starts (``--help`` included): keep the
    module that defines the commands torch-free and import heavy modules inside command bodies.
    ``app`` is this plugin's alone; what it holds when the hook returns is added to ``genedit``.
    If the hook raises, none of its commands are added and the error is shown by
    ``genedit plugins``; no other plugin loses anything. A command whose name genedit or an earlier
    plugin already uses is not added (``genedit plugins`` says so). Command bodies may use
    :mod:`genedit_cli.sdk` (consoles, progress, extra options checked against declared ones) and
    nothing else from ``genedit_cli``; raise :class:`~genedit_core.errors.GeneditError` subclasses
    for failures (one line, exit code from the class).
    """


@hookspec
def register_methods(register: RegisterMethod) -> None:
    """Declare optimisation/export methods as ``register(kind, name, summary, options=())``.

    ``kind`` is ``"optimize"`` or ``"export"``; ``genedit plugins`` shows them. ``options`` are the
    :class:`~genedit_core.options.Option` s the method reads from ``request.params``: the
    ``optimize``/``export`` commands list them in their help and refuse any other ``--key value``
    before loading a model (a method that declares none takes none).
    """


@hookspec
def register_datasets(register: RegisterDataset) -> None:
    """Declare the bundled sample sets this plugin serves as ``--data builtin:NAME``.

    Call ``register(SampleSet(name, summary, licence, source))`` once per set (and once per split
    such as ``shapes:heldout``); ``genedit datasets`` lists them next to the core's. This only makes
    a set discoverable: the plugin resolves its own names in its ``train``/``evaluate`` hooks.
    Metadata only, no torch.
    """


@hookspec(firstresult=True)
def load_model(request: LoadRequest) -> LoadedModel:
    """Build the network for ``request.card`` and return a :class:`genedit_core.model.LoadedModel`.

    Called for the card's owner only, by :func:`genedit_core.load` and by nothing else.
    ``request.weights`` is already resolved to a local file (or ``None`` for weight-free models),
    and ``request.state_dict`` holds its tensors, read once and canonicalised (wrappers unwrapped,
    ``module.`` stripped). The plugin maps layout-specific keys, infers hyperparameters from tensor
    shapes, and moves the module to ``request.device``/``request.dtype``. Build from the tensors you
    are given, whatever their values: a ``transform_model`` hook may ask for the network built from
    zero tensors of the original shapes and put other weights in afterwards.
    """


@hookspec(firstresult=True)
def transform_model(request: TransformRequest) -> LoadedModel | None:
    """Finish loading weights that a method changed; return the :class:`LoadedModel`, or ``None``.

    Called by :func:`genedit_core.load` when the weights' ``config.json`` names a method under
    ``genedit.transform`` (written by the method that made the folder, e.g. a pruning that removed
    channels, or an int8 program). Answer for the methods you registered and return ``None`` for
    the rest. The hook never builds a network itself: ``request.build(state)`` asks the card's
    owning plugin for it (from any tensors, e.g. zeros of the original shapes), and
    ``request.read_state()`` gives the weights file's tensors (read once, on first call). What the
    hook returns is the model genedit runs: rebuilt layers, a swapped-in program, another kernel.
    """


@hookspec(firstresult=True)
def edit(request: EditRequest) -> EditResult | None:
    """Run an editing task (``upscale``, ``denoise``, ...) on one image batch.

    ``request.image`` is a float tensor N×C×H×W in 0–1 on the model's device; return the edited
    tensor in 0–1. Use ``request.tiler`` to run big images tile by tile. ``request.alpha`` holds
    the input's alpha channel, if any (the core puts it back unless the hook returns 4 channels).
    Called for the card's owner only; return ``None`` if you do not serve ``request.task`` with this
    model.
    """


@hookspec(firstresult=True)
def generate(request: GenerateRequest) -> torch.Tensor | None:
    """Sample images for ``request.seeds``; return a float tensor N×C×H×W in 0–1, or ``None``."""


@hookspec(firstresult=True)
def train(request: TrainRequest) -> TrainTask | None:
    """Return a :class:`genedit_core.training.TrainTask` for ``request.card`` (called for its owner
    only), or ``None`` when this model cannot be trained.

    The core's shared trainer runs the task (single process or ``torchrun``), so a plugin never
    writes its own loop, checkpointing or resume logic.
    """


@hookspec(firstresult=True)
def evaluate(request: EvalRequest) -> EvalReport | None:
    """Score ``request.model`` on ``request.data`` for ``request.task``.

    Return ``{"columns": [...], "rows": [{...}, ...], "summary": {...}}`` (rows per image or per
    sample set, summary the means), or ``None`` if you do not evaluate this task with this model.
    Shared metric maths (PSNR, SSIM, FID) lives in :mod:`genedit_core.metrics`.
    """


@hookspec(firstresult=True)
def optimize(request: OptimizeRequest) -> dict[str, Any] | None:
    """Apply ``request.method`` to a loaded model; return a report dict, or ``None`` if not yours."""


@hookspec(firstresult=True)
def export(request: ExportRequest) -> str | Path | ExportReport | None:
    """Write ``request.model`` in ``request.format`` to ``request.out``; return the path, or ``None``."""


@hookspec(firstresult=True)
def tiny_weights(card: ModelCard, scale: int | None) -> TinyWeights | None:
    """Random weights of a tiny configuration of ``card``, for the conformance check (tests only).

    Return ``{"state_dict": {...}, "config": {...}}``: tensors named and shaped as the card's
    default weights file stores them (its default layout), only a few features wide.
    :mod:`genedit_core.testing` writes them to ``model.safetensors`` (``config``, optional, to
    ``config.json`` beside it), loads them through :func:`genedit_core.load` like real weights and
    runs every task of the card once, so the whole check takes well under a second per card.
    ``scale`` is the scale under test (``None`` for cards without scales). Called for the card's
    owner only, with torch seeded; return ``None`` for a card that needs no weights. No genedit
    command calls it.
    """
