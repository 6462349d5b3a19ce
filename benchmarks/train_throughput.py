"""Overhead of genedit's shared Trainer against a minimal hand-written PyTorch loop.

Both sides train EDSR-baseline x2 (16 blocks, 64 features, built by ``genedit_sr``) with Adam
(lr 2e-4, betas 0.9/0.999) and an L1 loss, on the same ``SRPatches`` data (random HR crops of
``builtin:skimage-photos`` with flips, bicubic-downscaled LR), the same batch size and patch size,
in fp32 NCHW, in this one process with the same torch thread count. Only the loop around the step
differs: the Trainer adds seeded per-sample batching (resume-exact), the step context, scheduler,
metrics logging and progress, and writes a run directory.

The two loops run interleaved step by step: the hand-written loop's steps are driven from inside
the Trainer's loop, one before each Trainer step, and timed on their own. On a shared machine the
load changes from one minute to the next (single steps can take several times longer); interleaving
makes both sides see the same load, which running them one after the other does not.

- Hand-written loop: one iteration = sample crops, forward, L1, backward, Adam step, read the loss.
- Trainer: one iteration = the time between two consecutive entries into ``train_step`` minus the
  hand-written step that ran in between; so it holds the Trainer's batching, step and bookkeeping.

Images/s is the batch size over the median iteration time after ``--warmup`` iterations. The time
between the end of one Trainer step and the start of the next (the loop's own work) is printed as
well. Target: overhead < 5 %.

    .venv/bin/python benchmarks/train_throughput.py [--steps 16 --warmup 3 --batch 4 --patch 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from genedit_sr.data import SRPatches
from genedit_sr.layouts import make_module
from genedit_sr.training import RECIPES, SRTask

from genedit_core.training.config import load_config
from genedit_core.training.data import resolve_data
from genedit_core.training.trainer import Trainer

TARGET_PCT = 5.0
DATA = "builtin:skimage-photos"


class HandWritten:
    """What a user would write by hand, one iteration per ``step()``."""

    def __init__(self, source, batch: int, patch: int, length: int):
        torch.manual_seed(0)
        self.model = make_module("edsr", {**RECIPES["edsr-baseline"], "scale": 2}).train()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=2e-4, betas=(0.9, 0.999))
        self.data = SRPatches(source, 2, patch, length)
        self.gen = torch.Generator().manual_seed(0)
        self.batch = batch
        self.times: list[float] = []

    def step(self) -> None:
        start = time.perf_counter()
        picks = torch.randint(len(self.data), (self.batch,), generator=self.gen)
        pairs = [self.data.get(int(i), self.gen) for i in picks]
        lr = torch.stack([p[0] for p in pairs])
        hr = torch.stack([p[1] for p in pairs])
        loss = F.l1_loss(self.model(lr), hr)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        float(loss.detach())  # what any loop does to log the loss
        self.times.append(time.perf_counter() - start)


class InterleavedSRTask(SRTask):
    """The SR plugin's own task; runs one hand-written step before each of its own, timed apart."""

    def __init__(self, partner: HandWritten) -> None:
        super().__init__("edsr-baseline")
        self.partner = partner
        self.entries: list[float] = []
        self.exits: list[float] = []
        self.partner_in_gap: list[float] = []

    def train_step(self, batch, ctx):
        before = len(self.partner.times)
        self.partner.step()
        self.partner_in_gap.append(sum(self.partner.times[before:]))
        self.entries.append(time.perf_counter())
        out = super().train_step(batch, ctx)
        self.exits.append(time.perf_counter())
        return out

    def trainer_iterations(self) -> tuple[list[float], list[float]]:
        """(iteration times, times between steps) of the Trainer alone, partner steps removed."""
        iters, between = [], []
        for k in range(len(self.entries) - 1):
            gap = self.partner_in_gap[k + 1]
            iters.append(self.entries[k + 1] - self.entries[k] - gap)
            between.append(self.entries[k + 1] - self.exits[k] - gap)
        return iters, between


def run(args: argparse.Namespace) -> InterleavedSRTask:
    source = resolve_data(DATA)  # decoded for the hand-written loop; the Trainer decodes its own
    task = InterleavedSRTask(HandWritten(source, args.batch, args.patch, args.steps * args.batch))
    overrides = [
        f"train.steps={args.steps}",
        f"train.batch_size={args.batch}",
        "train.lr=2e-4",
        "train.device=cpu",
        "train.schedule.type=constant",
        "train.eval_every=0",
        f"train.ckpt_every={10 * args.steps}",
        f"data.patch={args.patch}",
        f"data.epoch_length={args.steps * args.batch}",
        "data.eval=null",
        "model.scale=2",
    ]
    cfg = load_config(task.default_config, None, overrides)
    with tempfile.TemporaryDirectory(prefix="genedit-bench-") as tmp:
        Trainer(task, cfg, Path(tmp) / "run", data=DATA, quiet=True).fit()
    return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=16, help="LR patch side (HR is 2x)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both sides")
    args = parser.parse_args()
    if args.warmup >= args.steps - 2:
        parser.error("--warmup must leave at least two timed iterations")

    torch.set_num_threads(args.threads)
    task = run(args)
    ours, between = task.trainer_iterations()
    ours, between = ours[args.warmup :], between[args.warmup :]
    plain = task.partner.times[args.warmup :]
    m_ours, m_plain = statistics.median(ours), statistics.median(plain)
    ips_ours, ips_plain = args.batch / m_ours, args.batch / m_plain
    overhead = (m_ours / m_plain - 1.0) * 100.0
    print(
        f"setup        : EDSR-baseline x2, fp32 NCHW, batch {args.batch}, LR patch {args.patch}px "
        f"(HR {2 * args.patch}px), {args.steps} steps each ({args.warmup} warm-up), interleaved, "
        f"{args.threads} torch threads"
    )
    print(
        f"per step     : Trainer median {m_ours:.3f} s (min {min(ours):.3f}, max {max(ours):.3f}); "
        f"hand-written median {m_plain:.3f} s (min {min(plain):.3f}, max {max(plain):.3f})"
    )
    print(f"Trainer      : {ips_ours:.2f} images/s")
    print(f"hand-written : {ips_plain:.2f} images/s")
    print(
        f"loop cost    : {1000 * statistics.median(between):.1f} ms between Trainer steps (batching + bookkeeping)"
    )
    verdict = "meets" if overhead < TARGET_PCT else "MISSES"
    print(f"overhead     : {overhead:+.1f} %  ({verdict} the target < {TARGET_PCT:.0f} %)")


if __name__ == "__main__":
    main()
