"""Overhead of genedit's shared Trainer against a minimal hand-written PyTorch loop.

Both sides train EDSR-baseline x2 (16 blocks, 64 features, built by ``genedit_sr``) with Adam
(lr 2e-4, betas 0.9/0.999) and an L1 loss, on the same ``SRPatches`` dataset (random HR crops of
``builtin:skimage-photos`` with flips, bicubic-downscaled LR), the same batch size and patch size, in
fp32 NCHW, in this one process with the same torch thread count. Only the loop around the step
differs: the Trainer adds seeded per-sample batching (resume-exact), the step context, metrics
logging and progress, and writes a run directory.

Throughput is measured the same way for both: timestamps on entry to and exit from every training
step (forward, loss, backward, optimizer step). Images/s is the batch size over the median interval
between step entries after ``--warmup`` steps (the first steps pay one-off allocation costs; the
median, not the mean, because on a shared machine single steps can take several times longer when
other jobs run). The time between one step's exit and the next step's entry is the loop's own work
(batching, and for the Trainer its bookkeeping); its median is printed too. The sides alternate
for ``--rounds`` rounds and the median per side is compared. Target: overhead < 5 %.

    .venv/bin/python benchmarks/train_throughput.py [--steps 12 --warmup 2 --batch 4 --patch 16 --rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from genedit_sr.layouts import make_module
from genedit_sr.training import RECIPES, SRTask

from genedit_core.training.config import load_config
from genedit_core.training.data import SRPatches, resolve_data
from genedit_core.training.trainer import Trainer

TARGET_PCT = 5.0
DATA = "builtin:skimage-photos"


def summarise(entries: list[float], exits: list[float], warmup: int, batch: int) -> tuple[float, float]:
    """(images/s from the median step-to-step interval, median ms between a step's end and the next)."""
    intervals = [b - a for a, b in zip(entries[warmup:], entries[warmup + 1 :])]
    between = [b - a for a, b in zip(exits[warmup:], entries[warmup + 1 :])]
    return batch / statistics.median(intervals), 1000 * statistics.median(between)


class TimedSRTask(SRTask):
    """The SR plugin's own task, with a timestamp taken as each step starts."""

    def __init__(self) -> None:
        super().__init__("edsr-baseline")
        self.entries: list[float] = []
        self.exits: list[float] = []

    def train_step(self, batch, ctx):
        self.entries.append(time.perf_counter())
        out = super().train_step(batch, ctx)
        self.exits.append(time.perf_counter())
        return out


def run_trainer(args: argparse.Namespace) -> tuple[float, float]:
    task = TimedSRTask()
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
    return summarise(task.entries, task.exits, args.warmup, args.batch)


def run_plain(args: argparse.Namespace, source) -> tuple[float, float]:
    """What a user would write by hand: sample crops, forward, L1, backward, Adam step."""
    torch.manual_seed(0)
    model = make_module("edsr", {**RECIPES["edsr-baseline"], "scale": 2}).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4, betas=(0.9, 0.999))
    data = SRPatches(source, 2, args.patch, args.steps * args.batch)
    gen = torch.Generator().manual_seed(0)
    entries: list[float] = []
    exits: list[float] = []
    for _ in range(args.steps):
        pairs = [data.get(int(i), gen) for i in torch.randint(len(data), (args.batch,), generator=gen)]
        lr = torch.stack([p[0] for p in pairs])
        hr = torch.stack([p[1] for p in pairs])
        entries.append(time.perf_counter())
        loss = F.l1_loss(model(lr), hr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        float(loss.detach())  # what any loop does to log the loss
        exits.append(time.perf_counter())
    return summarise(entries, exits, args.warmup, args.batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=16, help="LR patch side (HR is 2x)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both sides")
    args = parser.parse_args()
    if args.warmup >= args.steps - 1:
        parser.error("--warmup must leave at least two timed steps")

    torch.set_num_threads(args.threads)
    source = resolve_data(DATA)  # decoded once for the hand-written loop (the Trainer decodes its own)
    ours: list[tuple[float, float]] = []
    plain: list[tuple[float, float]] = []
    for r in range(args.rounds):
        ours.append(run_trainer(args))
        plain.append(run_plain(args, source))
        print(
            f"round {r + 1}: Trainer {ours[-1][0]:.2f} img/s ({ours[-1][1]:.0f} ms between steps), "
            f"hand-written loop {plain[-1][0]:.2f} img/s ({plain[-1][1]:.0f} ms between steps)",
            flush=True,
        )
    m_ours, m_plain = statistics.median(o[0] for o in ours), statistics.median(p[0] for p in plain)
    b_ours, b_plain = statistics.median(o[1] for o in ours), statistics.median(p[1] for p in plain)
    overhead = (m_plain / m_ours - 1.0) * 100.0
    print(
        f"setup        : EDSR-baseline x2, fp32 NCHW, batch {args.batch}, LR patch {args.patch}px "
        f"(HR {2 * args.patch}px), {args.steps} steps ({args.warmup} warm-up), "
        f"{args.threads} torch threads, {args.rounds} rounds"
    )
    print(
        f"Trainer      : median {m_ours:.2f} images/s, {b_ours:.1f} ms between steps (batching + bookkeeping)"
    )
    print(f"hand-written : median {m_plain:.2f} images/s, {b_plain:.1f} ms between steps (batching)")
    step_ms = 1000 * args.batch / m_plain
    print(
        f"loop cost    : the Trainer adds {b_ours - b_plain:+.1f} ms between steps, "
        f"{100 * (b_ours - b_plain) / step_ms:+.2f} % of a {step_ms:.0f} ms step"
    )
    verdict = "meets" if overhead < TARGET_PCT else "MISSES"
    print(f"overhead     : {overhead:+.1f} %  ({verdict} the target < {TARGET_PCT:.0f} %)")


if __name__ == "__main__":
    main()
