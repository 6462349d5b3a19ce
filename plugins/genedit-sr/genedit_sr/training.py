"""Training recipes for the SR networks, run by genedit's shared trainer.

L1 loss on random HR crops with flips and transposes, LR made by anti-aliased bicubic downscaling
(the 'BI' degradation of the EDSR paper), Adam with the EDSR paper's β = (0.9, 0.999). Validation
PSNR on held-out photographs picks the ``best`` checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, fields_from, resolve_data

from .data import SRPatches
from .evaluation import evaluate_upscaler, reference_images
from .layouts import ARCHITECTURES, make_module

RECIPES: dict[str, dict[str, Any]] = {
    "edsr-baseline": {"arch": "edsr", "num_feat": 64, "num_block": 16, "res_scale": 1.0},
    "edsr": {"arch": "edsr", "num_feat": 256, "num_block": 32, "res_scale": 0.1},
    "espcn": {"arch": "espcn"},
    "srcnn": {"arch": "srcnn"},
    "vdsr": {"arch": "vdsr"},
    "realesrgan": {"arch": "rrdb", "num_feat": 64, "num_block": 23, "num_grow_ch": 32},
}
LAYOUT_OF_ARCH = {
    "edsr": "edsr-basicsr",
    "rrdb": "rrdb-basicsr",
    "espcn": "espcn",
    "srcnn": "srcnn",
    "vdsr": "vdsr",
}


class SRTask(TrainTask):
    export_net = "model"
    best_metric = ("psnr", "max")

    def __init__(self, card_name: str):
        self.name = card_name
        self.default_config = {
            "model": {**RECIPES[card_name], "scale": 2},
            "data": {
                "patch": 48,
                "epoch_length": 1600,
                "eval": "builtin:skimage-photos:heldout",
                "eval_max_side": 192,
            },
            "train": {
                "steps": 2000,
                "batch_size": 16,
                "lr": 2e-4,
                "log_every": 20,
                "ckpt_every": 250,
                "eval_every": 250,
                "schedule": {"type": "cosine", "warmup": 0},
            },
        }
        # Any hyperparameter the network's constructor takes (hyper() passes them on), typed by its
        # default, plus the keys read with a fallback.
        self.config_fields = {
            **fields_from(ARCHITECTURES[RECIPES[card_name]["arch"]], "model"),
            "model.scale": Field("int", ge=1),
            "model.init": Field("str", optional=True),
            "data.patch": Field("int", ge=1),
            "data.epoch_length": Field("int", ge=1),
            "data.eval": Field("str", optional=True),
            "data.eval_max_side": Field("int", optional=True, ge=1),
        }
        self._refs: list | None = None

    def hyper(self, cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in cfg["model"].items() if k not in ("arch", "init")}

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        model = make_module(cfg["model"]["arch"], self.hyper(cfg))
        if cfg["model"].get("init"):
            _warm_start(model, cfg["model"]["init"])
        return {"model": model}

    def build_optimizers(
        self, nets: dict[str, nn.Module], cfg: dict[str, Any]
    ) -> dict[str, torch.optim.Optimizer]:
        return {
            "model": torch.optim.Adam(
                nets["model"].parameters(), lr=float(cfg["train"]["lr"]), betas=(0.9, 0.999)
            )
        }

    def build_dataset(self, data: Any, cfg: dict[str, Any]) -> SRPatches:
        d = cfg["data"]
        return SRPatches(
            resolve_data(data), int(cfg["model"]["scale"]), int(d["patch"]), int(d["epoch_length"])
        )

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        lr, hr = batch
        with ctx.autocast():
            sr = ctx.nets["model"](lr)
        loss = F.l1_loss(sr.float(), hr)
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {"l1": loss.detach()}

    def evaluate(self, nets: dict[str, nn.Module], ctx) -> dict[str, float] | None:
        d = ctx.cfg["data"]
        if not d.get("eval"):
            return None
        if self._refs is None:
            self._refs = reference_images(d["eval"], d.get("eval_max_side"))
        model = nets["model"]
        dev = next(model.parameters()).device
        report = evaluate_upscaler(
            lambda x: model(x.to(dev)).float().cpu(), self._refs, int(ctx.cfg["model"]["scale"])
        )
        return {
            "psnr": report["summary"]["psnr"],
            "bicubic_psnr": report["summary"]["bicubic_psnr"],
            "ssim": report["summary"]["ssim"],
        }

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        arch = cfg["model"]["arch"]
        return {"arch": arch, "layout": LAYOUT_OF_ARCH[arch], **self.hyper(cfg)}


def _warm_start(model: nn.Module, path: str) -> None:
    """Copy every tensor whose name and shape match (e.g. a x4 model from a trained x2 body)."""
    from genedit_core.sdk import canonicalize, load_state_dict

    source = canonicalize(load_state_dict(path))
    own = model.state_dict()
    matched = {k: v.float() for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(matched, strict=False)
