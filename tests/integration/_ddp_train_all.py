"""Run several trainings one after another in each process of one torchrun launch.

``python -m torch.distributed.run --standalone --nproc-per-node 2 _ddp_train_all.py OUT JOBS.json``

JOBS.json is a list of jobs:

* ``{"model": NAME, "argv": [...]}``: ``argv`` is what follows ``genedit`` on the command line. It
  goes through ``genedit_cli.app.main``, the function ``torchrun -m genedit_cli`` calls, and the
  trainer joins and leaves its own process group, as in a launch of its own.
* ``{"model": "drift", "out": RUN_DIR, "expect_code": 1}``: the tiny task with a step that calls the
  unwrapped network, so DDP never synchronises its gradients; the trainer must refuse the result.
* ``{"model": "noise", "out": RUN_DIR}``: the tiny task, recording what ``ctx.randn`` gave each step
  (in the record's ``noise``), to compare between processes.

Starting torch twice per model would cost more than the tiny trainings themselves, so the jobs
share one launch. Each job's exit code (and error message) is written per rank to
``OUT/<model>.rank<R>.json``. A job that ends with another code than ``expect_code`` (0 unless
given) ends the launch: torchrun then stops the other process, which might otherwise wait in a
collective for ever, and the jobs after it have no record.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch.nn.functional as F

from genedit_core.training import unwrap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for _tiny_task
from _tiny_task import TinyTask  # noqa: E402


class DriftTask(TinyTask):
    """TinyTask whose forward pass skips the DDP wrapper: gradients stay local to each process."""

    name = "drift"

    def train_step(self, batch, ctx):
        x, y = batch
        loss = F.mse_loss(unwrap(ctx.nets["net"])(x), y)
        ctx.backward(loss)
        ctx.step_optimizer("net")
        return {"loss": loss.detach()}


class NoiseTask(TinyTask):
    """TinyTask that keeps the step noise it draws."""

    name = "noise"

    def __init__(self) -> None:
        super().__init__()
        self.drawn: list[list[float]] = []

    def train_step(self, batch, ctx):
        self.drawn.append(ctx.randn(3).tolist())
        return super().train_step(batch, ctx)


def _tiny(kind: str, run: Path) -> dict:
    from genedit_core.training.config import load_config
    from genedit_core.training.trainer import Trainer

    task = DriftTask() if kind == "drift" else NoiseTask()
    cfg = load_config(task.default_config, None, ["train.steps=3", "train.device=cpu"])
    Trainer(task, cfg, run, quiet=True).fit()
    return {"noise": task.drawn} if kind == "noise" else {}


def main() -> None:
    from genedit_cli.app import main as genedit_main

    from genedit_core.errors import GeneditError

    out, jobs = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    rank = int(os.environ.get("RANK", "0"))
    for job in jobs:
        label = " ".join(job["argv"]) if "argv" in job else job["model"]
        print(f"=== rank {rank}: {label}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        message, extra = "", {}
        try:
            if "argv" in job:
                genedit_main(list(job["argv"]))
            else:
                extra = _tiny(job["model"], Path(job["out"]))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except GeneditError as exc:
            code, message = exc.exit_code, str(exc)
        except BaseException as exc:  # an escaped exception is a failure of this job only
            code, message = 1, f"{type(exc).__name__}: {exc}"
            print(f"rank {rank}: {job['model']}: {message}", file=sys.stderr, flush=True)
        record = {
            "model": job["model"],
            "rank": rank,
            "code": code,
            "message": message,
            "seconds": round(time.perf_counter() - t0, 2),
            **extra,
        }
        (out / f"{job['model']}.rank{rank}.json").write_text(json.dumps(record))
        if code != job.get("expect_code", 0):
            sys.exit(code or 1)


if __name__ == "__main__":
    main()
