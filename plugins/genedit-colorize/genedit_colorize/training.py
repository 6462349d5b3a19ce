"""Training recipe for ``paints``, run by genedit's shared trainer.

Pairs are made on the fly: from colour photos the way PaintsChainer built its pairs (a random crop,
flipped at random, is the target and its XDoG drawing the input), or from ``builtin:clipart`` (a
drawing and its own line art). Hints are simulated from the target as in Zhang et al. 2017
(:func:`genedit_colorize.hints.simulate_hints`). The loss (``train.loss``) is L1 between the output
and the target, the MSE, or minus the mean PSNR of the batch's images (:func:`psnr_loss`, what the
reports average); Adam. PSNR with 5 seeded hints on ``data.eval`` picks ``best``: held-out photos,
or for clip art training-side drawings past ``data.clipart_limit`` (``data.eval_skip``), so the
held-out split stays unseen until the report.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, UsageError, fields_from, psnr, random_patch, resolve_data, xdog

from .clipart import ClipartPairs, parse_spec
from .hints import simulate_hints
from .network import PaintsUNet

EVAL_HINTS = 5


CLIPART_EVAL = 48  # drawings scored during training (the first of the split after data.eval_skip)


def _rgb(item: Any) -> torch.Tensor:
    img = (item[0] if isinstance(item, tuple) else item).float()
    return img[:1].expand(3, -1, -1) if img.shape[0] in (1, 2) else img[:3]


def clipart_source(data: Any, size: int, limit: int | None = None) -> ClipartPairs | None:
    """The rendered pairs for a ``builtin:clipart[:split]`` spec, or None for any other spec."""
    split = parse_spec(str(data)) if data is not None else None
    return None if split is None else ClipartPairs(split, size, limit=limit)


class SketchPairs:
    """(line art, hint colours, hint mask, target) crops, drawn per index.

    From photos (a folder or builtin set) the target is an area-weighted random crop
    (:func:`genedit_core.sdk.random_patch`) and its XDoG drawing the line art; from
    ``builtin:clipart`` a drawing is picked at random and its own line art is cropped with it.
    """

    def __init__(self, source: Any, patch: int, length: int, seed: int = 0):
        self.patch, self.length, self.seed = patch, length, seed
        self.clipart = source if isinstance(source, ClipartPairs) else None
        if self.clipart is not None:
            if self.clipart.size < patch:
                raise UsageError(f"data.patch {patch} is larger than data.clipart_size {self.clipart.size}")
            return
        self.images = [
            im for im in (_rgb(source[i]) for i in range(len(source))) if min(im.shape[-2:]) >= patch
        ]
        if not self.images:
            raise UsageError(f"every training image is smaller than data.patch ({patch}px); lower it")
        self.weights = torch.tensor([float(im.shape[-1] * im.shape[-2]) for im in self.images])

    def __len__(self) -> int:
        return self.length

    def _clipart_crop(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.clipart is not None
        n = len(self.clipart)
        start = int(torch.randint(0, n, (), generator=gen))
        for k in range(n):  # a skipped drawing gives way to the next one
            pair = self.clipart.pair((start + k) % n)
            if pair is not None:
                both = torch.cat([pair[0], pair[1]], dim=0)
                crop = random_patch([both], torch.ones(1), self.patch, gen)
                return crop[3:4], crop[:3]
        raise UsageError("builtin:clipart: every drawing failed to render")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        if self.clipart is not None:
            line, target = self._clipart_crop(gen)
        else:
            target = random_patch(self.images, self.weights, self.patch, gen)
            line = xdog(target[None])[0]
        colours, mask = simulate_hints(target, gen)
        return line, colours, mask, target


def eval_pairs(
    data: str, max_side: int | None, hints: int = EVAL_HINTS, limit: int | None = None, skip: int = 0
) -> list[tuple[torch.Tensor, ...]]:
    """Held-out (line, colours, mask, target) with ``hints`` seeded hints each.

    Photos are centre-cropped to ``max_side`` and drawn by XDoG; ``builtin:clipart`` drawings are
    rendered at ``max_side`` (the first ``limit`` of the split after the first ``skip``; skipped
    ones left out). ``skip`` lets training validate on drawings of the training split that it does
    not train on (``data.clipart_limit`` of them are trained on), so the held-out split stays unseen.
    """
    clip = clipart_source(data, max_side or 256, None if limit is None else skip + limit)
    out = []
    if clip is not None:
        for i in range(skip, len(clip)):
            pair = clip.pair(i)
            if pair is None:
                continue
            img, line = pair
            colours, mask = simulate_hints(img, torch.Generator().manual_seed(1000 + i), count=hints)
            out.append((line, colours, mask, img))
        if not out:
            raise UsageError(f"data.eval {data}: every drawing failed to render")
        return out
    source = resolve_data(data)
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


def psnr_loss(out: torch.Tensor, target: torch.Tensor, floor: float = 1e-4) -> torch.Tensor:
    """Minus the batch's mean PSNR in dB (data range 1), each image's MSE floored at ``floor`` (40 dB).

    The reports average PSNR over images, which rewards getting an easy drawing (white paper, a few
    fills) exactly right far more than a mean MSE does; this loss is that average, so a network
    trained on it does not trade the easy drawings for the hard ones.
    """
    mse = (out - target).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(mse + floor).mean()


class PaintsTask(TrainTask):
    export_net = "model"
    best_metric = ("psnr", "max")

    def __init__(self) -> None:
        self.name = "paints"
        self.default_config = {
            "model": {"features": 32, "levels": 2, "guided": False},
            "data": {
                "patch": 64,
                "epoch_length": 3200,
                "eval": "builtin:skimage-photos:heldout",
                "eval_max_side": 128,
                "clipart_size": 128,
                "clipart_limit": None,
                "eval_skip": 0,
            },
            "train": {
                "steps": 2000,
                "batch_size": 16,
                "lr": 1e-3,
                "loss": "l1",
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
            "data.clipart_size": Field("int", ge=8),
            "data.clipart_limit": Field("int", optional=True, ge=1),
            "data.eval_skip": Field("int", ge=0),
            "train.loss": Field("str", choices=("l1", "mse", "psnr")),
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
        step = 2 ** int(cfg["model"].get("levels", 2))
        if int(d["patch"]) % step:
            raise UsageError(f"data.patch {d['patch']}: must be a multiple of {step} (2 ** model.levels)")
        limit = d.get("clipart_limit")
        source = clipart_source(data, int(d["clipart_size"]), int(limit) if limit else None)
        source = source if source is not None else resolve_data(data)
        return SketchPairs(source, int(d["patch"]), int(d["epoch_length"]))

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        line, colours, mask, target = batch
        with ctx.autocast():
            out = ctx.nets["model"](line, colours, mask)
        kind = ctx.cfg["train"].get("loss", "l1")
        if kind == "psnr":
            loss = psnr_loss(out.float(), target)
        else:
            loss = (F.mse_loss if kind == "mse" else F.l1_loss)(out.float(), target)
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {"neg_psnr" if kind == "psnr" else kind: loss.detach()}

    def evaluate(self, nets: dict[str, nn.Module], ctx) -> dict[str, float] | None:
        d = ctx.cfg["data"]
        if not d.get("eval"):
            return None
        if self._refs is None:
            self._refs = eval_pairs(
                d["eval"], d.get("eval_max_side"), limit=CLIPART_EVAL, skip=int(d.get("eval_skip") or 0)
            )
        model = nets["model"]
        dev = next(model.parameters()).device
        scores = []
        with torch.no_grad():
            for line, colours, mask, target in self._refs:
                out = model(line[None].to(dev), colours[None].to(dev), mask[None].to(dev)).float().cpu()
                scores.append(psnr(out[0].numpy(), target.numpy(), data_range=1.0))
        return {"psnr": sum(scores) / len(scores)}

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        m = cfg["model"]
        return {
            "features": int(m["features"]),
            "levels": int(m.get("levels", 2)),
            "guided": bool(m.get("guided", False)),
        }
