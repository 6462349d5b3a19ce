"""Training recipe for ``paints``, run by genedit's shared trainer.

Pairs are made from colour photos on the fly, the way PaintsChainer built its pairs: a random
crop (flipped at random) is the target, its XDoG drawing the input, and hints are simulated from the
target as in Zhang et al. 2017 (:func:`genedit_colorize.hints.simulate_hints`). The loss is L1
between the output and the target; Adam. Held-out PSNR with 5 seeded hints picks ``best``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, UsageError, fields_from, psnr, resolve_data

from .hints import simulate_hints
from .network import PaintsUNet
from .xdog import xdog

EVAL_HINTS = 5


def _rgb(item: Any) -> torch.Tensor:
    img = (item[0] if isinstance(item, tuple) else item).float()
    return img[:1].expand(3, -1, -1) if img.shape[0] in (1, 2) else img[:3]


class SketchPairs:
    """(line art, hint colours, hint mask, target) crops of ``source``'s images, drawn per index."""

    def __init__(self, source: Any, patch: int, length: int, seed: int = 0):
        self.images = [
            im for im in (_rgb(source[i]) for i in range(len(source))) if min(im.shape[-2:]) >= patch
        ]
        if not self.images:
            raise UsageError(f"every training image is smaller than data.patch ({patch}px); lower it")
        self.patch, self.length, self.seed = patch, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        img = self.images[int(torch.randint(0, len(self.images), (), generator=gen))]
        p = self.patch
        h, w = img.shape[-2:]
        y = int(torch.randint(0, h - p + 1, (), generator=gen))
        x = int(torch.randint(0, w - p + 1, (), generator=gen))
        target = img[:, y : y + p, x : x + p]
        if int(torch.randint(0, 2, (), generator=gen)):
            target = target.flip(-1)
        target = target.contiguous()
        line = xdog(target[None])[0]
        colours, mask = simulate_hints(target, gen)
        return line, colours, mask, target


def eval_pairs(data: str, max_side: int | None, hints: int = EVAL_HINTS) -> list[tuple[torch.Tensor, ...]]:
    """Held-out (line, colours, mask, target) with ``hints`` seeded hints each, centre-cropped."""
    source = resolve_data(data)
    out = []
    for i in range(len(source)):
        img = _rgb(source[i])
        if max_side:
            h, w = img.shape[-2:]
            th, tw = min(h, max_side), min(w, max_side)
            img = img[:, (h - th) // 2 : (h - th) // 2 + th, (w - tw) // 2 : (w - tw) // 2 + tw]
        img = img.contiguous()
        colours, mask = simulate_hints(img, torch.Generator().manual_seed(1000 + i), count=hints)
        out.append((xdog(img[None])[0], colours, mask, img))
    if not out:
        raise UsageError(f"data.eval {data}: no images")
    return out


class PaintsTask(TrainTask):
    export_net = "model"
    best_metric = ("psnr", "max")

    def __init__(self) -> None:
        self.name = "paints"
        self.default_config = {
            "model": {"features": 32},
            "data": {
                "patch": 64,
                "epoch_length": 3200,
                "eval": "builtin:skimage-photos:heldout",
                "eval_max_side": 128,
            },
            "train": {
                "steps": 2000,
                "batch_size": 16,
                "lr": 1e-3,
                "log_every": 20,
                "ckpt_every": 250,
                "eval_every": 250,
                "schedule": {"type": "cosine", "warmup": 0},
            },
        }
        self.config_fields = {
            **fields_from(PaintsUNet, "model"),
            "data.patch": Field("int", ge=8),
            "data.epoch_length": Field("int", ge=1),
            "data.eval": Field("str", optional=True),
            "data.eval_max_side": Field("int", optional=True, ge=8),
        }
        self._refs: list | None = None

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        return {"model": PaintsUNet(**cfg["model"])}

    def build_optimizers(
        self, nets: dict[str, nn.Module], cfg: dict[str, Any]
    ) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(nets["model"].parameters(), lr=float(cfg["train"]["lr"]))}

    def build_dataset(self, data: Any, cfg: dict[str, Any]) -> SketchPairs:
        d = cfg["data"]
        if int(d["patch"]) % 4:
            raise UsageError(f"data.patch {d['patch']}: must be a multiple of 4 (two stride-2 levels)")
        return SketchPairs(resolve_data(data), int(d["patch"]), int(d["epoch_length"]))

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        line, colours, mask, target = batch
        with ctx.autocast():
            out = ctx.nets["model"](line, colours, mask)
        loss = F.l1_loss(out.float(), target)
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {"l1": loss.detach()}

    def evaluate(self, nets: dict[str, nn.Module], ctx) -> dict[str, float] | None:
        d = ctx.cfg["data"]
        if not d.get("eval"):
            return None
        if self._refs is None:
            self._refs = eval_pairs(d["eval"], d.get("eval_max_side"))
        model = nets["model"]
        dev = next(model.parameters()).device
        scores = []
        with torch.no_grad():
            for line, colours, mask, target in self._refs:
                out = model(line[None].to(dev), colours[None].to(dev), mask[None].to(dev)).float().cpu()
                scores.append(psnr(out[0].numpy(), target.numpy(), data_range=1.0))
        return {"psnr": sum(scores) / len(scores)}

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        return {"features": int(cfg["model"]["features"])}
