"""Recover quality after surgery by distilling the changed network towards the original one.

Runs through the shared :class:`genedit_core.training.Trainer`, like ``genedit train``: seeding,
LR schedule, logging to ``metrics.jsonl`` and a checkpoint land in ``OUT/finetune/``, so a long
fine-tune is inspectable and reproducible. The objective needs no labels, which is what lets it
work for any model a plugin exposes: before the surgery the original model labels a pool of random
calibration crops (LR crops for upscalers) with its own outputs; afterwards the changed model is
fitted to those outputs (L1, Adam, cosine schedule).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import ProgressFn, TrainTask, silent

from ._wrap import require_module


class TeacherPairs:
    """(input crop, original model's output) pairs, computed once before the surgery."""

    def __init__(self, inputs: list[torch.Tensor], targets: list[torch.Tensor]):
        if not inputs:
            raise ValueError("fine-tuning needs at least one calibration crop")
        # Each item arrives as a batch of one (1×C×h×w crop or 1×latent); the trainer re-batches.
        self.inputs = [x[0] for x in inputs]
        self.targets = [y[0] for y in targets]

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.inputs[index], self.targets[index]


def teacher_pairs(model: Any, inputs: list[torch.Tensor], progress: ProgressFn = silent) -> TeacherPairs:
    """Label ``inputs`` with the model as it is now (call before changing it)."""
    phase = "label the fine-tune crops with the original model"
    targets = []
    with torch.no_grad():
        for i, x in enumerate(inputs):
            targets.append(model.forward(x.to(model.device, model.dtype)).float().cpu())
            progress(phase, i + 1, len(inputs))
    return TeacherPairs([x.float().cpu() for x in inputs], targets)


class DistillTask(TrainTask):
    """One network (the student) fitted to fixed teacher outputs."""

    name = "distill"
    export_net = "student"

    def __init__(
        self, student: Any, pairs: TeacherPairs, lr: float, progress: ProgressFn = silent, steps: int = 0
    ):
        self.student, self.pairs, self.lr = student, pairs, lr
        self.progress, self.steps = progress, steps

    def build_networks(self, cfg):
        return {"student": require_module(self.student)}

    def build_optimizers(self, nets, cfg):
        params = [p for p in nets["student"].parameters() if p.is_floating_point()]
        for p in params:
            p.requires_grad_(True)
        return {"student": torch.optim.Adam(params, lr=self.lr)}

    def build_dataset(self, data, cfg):
        return self.pairs

    def train_step(self, batch, ctx):
        x, target = batch
        out = self.student.forward(x.to(self.student.dtype))
        loss = (out.float() - target.float()).abs().mean()
        ctx.backward(loss)
        ctx.step_optimizer("student")
        if not ctx.accumulating:
            self.progress("fine-tune", ctx.step + 1, self.steps or None)
        return {"l1": loss.detach()}


def finetune(
    model: Any,
    pairs: TeacherPairs,
    out: Path,
    *,
    steps: int,
    lr: float,
    batch_size: int = 8,
    seed: int = 0,
    progress: ProgressFn = silent,
) -> dict[str, Any]:
    """Distil ``model`` (changed in place) towards the teacher outputs in ``pairs``.

    ``progress("fine-tune", step, steps)`` follows every optimiser step.
    """
    from genedit_core.sdk import TRAIN_DEFAULTS as DEFAULTS
    from genedit_core.sdk import Trainer, deep_merge

    cfg = deep_merge(
        DEFAULTS,
        {
            "train": {
                "steps": steps,
                "batch_size": min(batch_size, len(pairs)),
                "lr": lr,
                "seed": seed,
                "device": str(model.device),
                "schedule": {"type": "cosine", "warmup": min(100, steps // 10)},
                "log_every": max(1, min(50, steps // 20)),
                "ckpt_every": steps,
                "keep_checkpoints": 1,
                "sample_every": 0,
            }
        },
    )
    module = require_module(model)
    run = out / "finetune"
    progress("fine-tune", 0, steps)
    trainer = Trainer(DistillTask(model, pairs, lr, progress, steps), cfg, run, quiet=True)
    try:
        trainer.fit()
    finally:
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
    losses = [h["l1"] for h in trainer.history if "l1" in h]
    return {
        "steps": steps,
        "lr": lr,
        "batch_size": cfg["train"]["batch_size"],
        "pool": len(pairs),
        "schedule": "cosine",
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "target": "outputs of the original model (distillation)",
        "run": str(run),
    }


def prepare(model: Any, ctx: Any, steps: int) -> TeacherPairs | None:
    """Before the surgery: the pool of labelled crops (``--finetune-pool``, ``--calib-size``)."""
    if not steps:
        return None
    from genedit_core.sdk import get_int

    from .evaldata import calibration_batches

    size = get_int(ctx.params, "calib_size", 48, lo=8)
    pool = get_int(ctx.params, "finetune_pool", 256, lo=1)
    ctx.progress(f"fine-tune crops ({pool})")
    inputs = calibration_batches(model, ctx.params.get("calib"), size, pool, seed=1)
    pairs = teacher_pairs(model, inputs, ctx.progress)
    ctx.resume()
    return pairs


def run_finetune(model: Any, pairs: TeacherPairs, ctx: Any, steps: int, lr: float) -> dict[str, Any]:
    """After the surgery: :func:`finetune` with the method's ``--finetune-batch`` option."""
    from genedit_core.sdk import get_int

    from .evaldata import CALIB_DEFAULT

    ctx.out.mkdir(parents=True, exist_ok=True)
    batch = get_int(ctx.params, "finetune_batch", 8, lo=1)
    report = finetune(model, pairs, ctx.out, steps=steps, lr=lr, batch_size=batch, progress=ctx.progress)
    ctx.resume()
    report["data"] = ctx.params.get("calib") or CALIB_DEFAULT
    return report
