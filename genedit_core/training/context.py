"""The helpers a task's ``train_step`` uses: backward with accumulation, optimizer steps with
clipping and schedules, autocast, and a per-step random generator that survives resume."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn


@dataclass
class StepContext:
    nets: dict[str, nn.Module]
    """Networks to call in the step (DDP-wrapped when distributed: read their attributes through
    :func:`genedit_core.training.unwrap`, but call these for forward passes)."""
    raw_nets: dict[str, nn.Module]
    """The same networks unwrapped (for parameters, EMA copies and saving)."""
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    cfg: dict[str, Any]
    device: torch.device
    step: int = 0
    accumulating: bool = False
    micro_steps: int = 1
    use_bf16: bool = False
    generator: torch.Generator | None = None
    world_size: int = 1
    rank: int = 0
    grad_norms: dict[str, float] = field(default_factory=dict)

    def autocast(self):
        """bf16 autocast when enabled in ``train.bf16`` and supported; otherwise a no-op."""
        if not self.use_bf16:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        """Backward scaled for gradient accumulation."""
        (loss / self.micro_steps).backward(**kwargs)

    def step_optimizer(self, name: str) -> bool:
        """Clip, step and zero one optimizer (and advance its schedule) at an accumulation boundary.

        Returns ``False`` while gradients are still being accumulated.
        """
        if self.accumulating:
            return False
        opt = self.optimizers[name]
        params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
        clip = self.cfg["train"].get("grad_clip") or {}
        kind, value = clip.get("type", "none"), clip.get("max", 0.0)
        if kind == "norm" and value:
            self.grad_norms[name] = float(torch.nn.utils.clip_grad_norm_(params, value))
        elif kind == "value" and value:
            torch.nn.utils.clip_grad_value_(params, value)
        opt.step()
        opt.zero_grad(set_to_none=True)
        if name in self.schedulers:
            self.schedulers[name].step()
        return True

    def randn(self, *shape: int) -> torch.Tensor:
        """Normal noise from the step generator (reproducible across resume)."""
        return torch.randn(*shape, generator=self.generator, device=self.device)

    def rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def randint(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(high, shape, generator=self.generator, device=self.device)
