"""Training tasks for the shared trainer, one module per GAN family.

:mod:`.common` holds what the families share, once: the :class:`~.common.GANTask` base (data,
fixed-noise samples, exported config, collapse warnings, DiffAugment, Adam), the non-saturating BCE
step the GAN and DCGAN papers use, and the ``diversity`` metric; :mod:`.data` the dataset they all
train on. Each family module (:mod:`.mlp`, :mod:`.dcgan`, :mod:`.biggan`, :mod:`.stylegan2`, the
same names as the networks in :mod:`genedit_gan._arch`) holds its task's defaults, networks and, when
its loss is its own, its step, and names the task ``TASK``. This package puts them in :data:`TASKS`
in the explicit order of :data:`_MODULES`; adding a family is a new module here and one entry there.
"""

from __future__ import annotations

from genedit_core.sdk import TrainTask, UsageError

from . import biggan, dcgan, mlp, stylegan2

__all__ = ["TASKS", "task_for"]

_MODULES = (mlp, dcgan, biggan, stylegan2)

TASKS: dict[str, type[TrainTask]] = {m.TASK.name: m.TASK for m in _MODULES}


def task_for(name: str) -> TrainTask:
    """A fresh task for the card ``name`` (tasks keep per-run state such as ``ema``)."""
    if name not in TASKS:
        raise UsageError(f"model '{name}' has no training task (trainable: {', '.join(TASKS)})")
    return TASKS[name]()
