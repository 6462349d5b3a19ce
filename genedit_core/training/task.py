"""What a plugin hands the shared trainer: a :class:`TrainTask`.

The trainer owns everything that is the same for every model (seeding, data order, devices,
checkpoints, resume, EMA, clipping, accumulation, autocast, DDP, logging, sample grids); the task
owns what is specific: its networks, optimizers, data and one training step. GANs and CycleGAN
step several networks with several optimizers, so the step is a function the task writes, using
the :class:`StepContext` helpers for backward and optimizer steps.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch import nn

    from .config import Field
    from .context import StepContext


class TrainTask(abc.ABC):
    """Base class for trainable models. Override the ``build_*`` methods and :meth:`train_step`.

    Attributes a subclass may set:

    * ``default_config``: nested dict merged under the user's config. Sections used by the trainer
      are documented in :data:`genedit_core.training.config.DEFAULTS`.
    * ``export_net``: the network whose weights become ``model.safetensors`` (its EMA copy if one
      exists).
    * ``ema``: ``{net_name: decay}``; the trainer keeps ``<net_name>_ema`` up to date after each
      optimizer step and saves it with the checkpoint.
    * ``best_metric``: ``(name, "min" | "max")`` from :meth:`evaluate`, used for the ``best``
      pointer; ``None`` makes ``best`` follow ``last``.
    * ``generative``: when true, :meth:`sample` grids are written every ``train.sample_every`` steps.
    * ``config_fields``: ``{"section.key": Field(...)}`` (:class:`genedit_core.training.config.Field`)
      for keys the task reads without a default, or to bound its own (``Field("int", ge=1)``).
      The trainer refuses a config with any other key, or a value of another type than the
      default's, before training; ``config_fields`` of base classes and mixins are merged.
    """

    name: str = "task"
    default_config: dict[str, Any] = {}
    export_net: str = "model"
    ema: dict[str, float] = {}
    best_metric: tuple[str, str] | None = None
    generative: bool = False
    config_fields: dict[str, Field] = {}

    @abc.abstractmethod
    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        """The networks by name; the trainer moves them to the device and wraps them for DDP."""

    @abc.abstractmethod
    def build_optimizers(
        self, nets: dict[str, nn.Module], cfg: dict[str, Any]
    ) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per name used with ``ctx.step_optimizer(name)``; each gets the LR schedule."""

    @abc.abstractmethod
    def build_dataset(self, data: Path | None, cfg: dict[str, Any]) -> Any:
        """A map-style dataset. If it has ``get(index, generator)``, the trainer calls that with a
        generator seeded from (seed, epoch, position), so augmentation is reproducible on resume."""

    @abc.abstractmethod
    def train_step(self, batch: Any, ctx: StepContext) -> dict[str, float]:
        """One step on ``batch``: compute losses, ``ctx.backward(loss)``, ``ctx.step_optimizer(name)``.

        Return scalar metrics to log (floats or 0-d tensors).
        """

    def sample(self, nets: dict[str, nn.Module], ctx: StepContext) -> torch.Tensor | None:
        """Images in 0–1 (N×C×H×W) for the periodic sample grid; ``None`` to skip."""
        return None

    def evaluate(self, nets: dict[str, nn.Module], ctx: StepContext) -> dict[str, float] | None:
        """Validation metrics every ``train.eval_every`` steps; ``None`` to skip."""
        return None

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        """Hyperparameters written to ``config.json`` beside the weights, for loading them back."""
        return {}

    def check(self, metrics: dict[str, float], ctx: StepContext) -> list[str]:
        """Warnings about the run so far (e.g. discriminator collapse); shown once each."""
        return []
