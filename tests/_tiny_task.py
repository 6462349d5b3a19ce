"""A tiny TrainTask used by the trainer tests (also run as a script under torchrun)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.training import TrainTask


class NoisyPairs:
    """x random, target a fixed blur of x; ``get`` adds generator-driven noise (augmentation)."""

    def __init__(self, n: int = 64, size: int = 8):
        g = torch.Generator().manual_seed(123)
        self.x = torch.rand(n, 1, size, size, generator=g)
        k = torch.ones(1, 1, 3, 3) / 9
        self.y = F.conv2d(self.x, k, padding=1)

    def __len__(self) -> int:
        return len(self.x)

    def get(self, index: int, gen: torch.Generator):
        return self.x[index] + 0.01 * torch.randn(self.x[index].shape, generator=gen), self.y[index]


class TinyTask(TrainTask):
    name = "tiny"
    export_net = "net"

    def __init__(self, ema: float | None = None):
        self.ema = {"net": ema} if ema else {}
        self.default_config = {
            "train": {
                "steps": 40,
                "batch_size": 8,
                "lr": 0.05,
                "log_every": 1,
                "ckpt_every": 10,
                "eval_every": 0,
            }
        }

    def build_networks(self, cfg):
        return {"net": nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3, padding=1))}

    def build_optimizers(self, nets, cfg):
        return {"net": torch.optim.SGD(nets["net"].parameters(), lr=float(cfg["train"]["lr"]), momentum=0.9)}

    def build_dataset(self, data, cfg):
        return NoisyPairs()

    def train_step(self, batch, ctx):
        x, y = batch
        with ctx.autocast():
            out = ctx.nets["net"](x)
        loss = F.mse_loss(out.float(), y)
        ctx.backward(loss)
        ctx.step_optimizer("net")
        return {"loss": loss.detach()}

    def export_config(self, nets, cfg):
        return {"arch": "tiny"}


def main() -> None:
    """``python _tiny_task.py RUN_DIR [key=value ...] [--resume]``: train and dump final weights."""
    from genedit_core.training.config import apply_overrides, load_config
    from genedit_core.training.trainer import Trainer

    run = Path(sys.argv[1])
    resume = "--resume" in sys.argv
    overrides = [a for a in sys.argv[2:] if "=" in a]
    task = TinyTask()
    cfg = apply_overrides(load_config(task.default_config), overrides)
    trainer = Trainer(task, cfg, run, resume=resume, quiet=True)
    trainer.fit()
    import os

    rank = int(os.environ.get("RANK", "0"))
    net = trainer_last_net(run)
    torch.save(net, run / f"final-rank{rank}.pt")
    (run / f"history-rank{rank}.json").write_text(json.dumps(trainer.history))


def trainer_last_net(run: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(
        str(
            run
            / "checkpoints"
            / json.loads((run / "checkpoints" / "last.json").read_text())["dir"]
            / "nets.safetensors"
        )
    )


if __name__ == "__main__":
    main()
