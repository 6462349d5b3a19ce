"""Request objects passed to the task hooks.

They are plain dataclasses so that hook signatures stay stable: new fields get defaults and old
plugins keep working. Annotated loosely (``Any`` for tensors) to keep this module torch-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .progress import ProgressFn, StepProgress, silent, silent_steps

if TYPE_CHECKING:
    from .cards import ModelCard
    from .model import LoadedModel
    from .weights import ResolvedWeights


@dataclass
class LoadRequest:
    card: ModelCard
    weights: ResolvedWeights | None
    state_dict: dict[str, Any] | None
    scale: int | None
    device: Any
    dtype: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class TransformRequest:
    """What ``transform_model`` gets: the method named in the weights' config.json, and the means
    to finish the model without building one itself.

    ``build(state, device=None, dtype=None)`` calls the card owner's ``load_model`` with ``state``
    (and the asked-for device and dtype unless given); ``read_state()`` returns the weights file's
    tensors, canonicalised, reading the file on the first call only. ``config`` is the config.json
    that came with the weights (``config["genedit"]`` holds the method's own record).
    """

    method: str
    card: ModelCard
    weights: ResolvedWeights
    config: dict[str, Any]
    scale: int | None
    device: Any
    dtype: Any
    build: Callable[..., LoadedModel]
    read_state: Callable[[], dict[str, Any]]


@dataclass
class EditRequest:
    """``alpha`` is the input's alpha channel (1×1×H×W floats in 0–1, ``None`` without one), for
    tasks that read transparency (inpainting takes transparent pixels as the hole). The core puts it
    back on the output unless the hook returns 4 channels, whose last one is then the alpha.

    ``progress(done, total, values=None)`` is for a hook whose one call runs long (an
    optimisation): its steps move the image's bar, ``values`` (e.g. losses) shown beside it; see
    :func:`genedit_core.progress.step_progress`. A hook that runs the tiler need not call it."""

    task: str
    card: ModelCard
    model: Any
    image: Any
    tiler: Any
    params: dict[str, Any] = field(default_factory=dict)
    images: list[Any] | None = None
    alpha: Any = None
    progress: StepProgress = silent_steps


@dataclass
class GenerateRequest:
    card: ModelCard
    model: Any
    seeds: list[int]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainRequest:
    card: ModelCard
    data: Path | None
    out: Path
    config: dict[str, Any] = field(default_factory=dict)
    resume: Path | None = None


@dataclass
class OptimizeRequest:
    """``progress(phase, done, total)`` reports long work (see :mod:`genedit_core.progress`)."""

    method: str
    card: ModelCard
    model: Any
    out: Path
    params: dict[str, Any] = field(default_factory=dict)
    progress: ProgressFn = silent


@dataclass
class ExportRequest:
    format: str
    card: ModelCard
    model: Any
    out: Path
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalRequest:
    task: str
    card: ModelCard
    model: Any
    data: Path | None
    params: dict[str, Any] = field(default_factory=dict)
