"""The shared trainer. Plugins subclass :class:`TrainTask`; the core runs it with :class:`Trainer`.

Names load lazily so that importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

from .task import TrainTask

__all__ = ["StepContext", "TrainTask", "Trainer", "load_config", "unwrap"]

_LAZY = {
    "StepContext": "context",
    "Trainer": "trainer",
    "load_config": "config",
    "unwrap": "distributed",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
