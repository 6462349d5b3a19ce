"""Training recipe for DnCNN, run by genedit's shared trainer.

Residual learning as in the paper: random crops of the training photos with flips and transposes,
Gaussian noise added in the step (σ fixed, or for a blind model drawn per patch from
``data.sigma_range``), MSE between the network's output and the clean patch, Adam. Noise comes
from the step generator, so a resumed run sees exactly the noise an uninterrupted one would.
Validation PSNR at ``data.eval_sigma`` on held-out photos picks the ``best`` checkpoint.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import (
    Field,
    TrainTask,
    UsageError,
    fields_from,
    load_state_dict,
    load_strict,
    random_patch,
    resolve_data,
)

from ._arch.dncnn import DnCNN
from ._arch.gated_unet import COARSE, GatedUNet
from .evaluation import evaluate_denoiser, evaluate_inpainter, reference_images
from .layouts import make_module

RECIPES: dict[str, dict[str, Any]] = {
    "dncnn": {"channels": 3, "features": 64, "depth": 17, "bn": False, "body_bias": True},
    # blend: on validation photos an untrained blend network (the two fills' mean) fills 0.36 dB
    # better than the biharmonic fill alone, and no run of either learned much more (the card)
    "gated-unet": {"features": 32, "dilated": 2, "coarse": "blend"},
}


SAMPLING = ("area", "image")


class Patches:
    """Random crops (flipped/transposed) of C×H×W images; ``channels`` 1 takes the grey mean.

    ``sample`` picks the image of each crop: ``area`` (every pixel equally likely: large images
    dominate) or ``image`` (every image equally likely: a folder of mixed sizes counts each photo once,
    so two large scientific images cannot make up most of what the network sees).
    """

    def __init__(self, source: Any, patch: int, length: int, channels: int, sample: str = "area"):
        images = []
        for i in range(len(source)):
            img = source[i][0] if isinstance(source[i], tuple) else source[i]
            img = img.float()
            img = img[:1].expand(3, -1, -1) if img.shape[0] in (1, 2) else img[:3]
            if channels == 1:
                img = img.mean(0, keepdim=True)
            if min(img.shape[-2:]) >= patch:
                images.append(img.contiguous())
        if not images:
            raise UsageError(f"every training image is smaller than data.patch ({patch}px); lower it")
        self.images, self.patch, self.length = images, patch, length
        if sample not in SAMPLING:
            raise UsageError(f"data.sample '{sample}': use one of {', '.join(SAMPLING)}")
        if sample == "area":
            areas = torch.tensor([im.shape[-1] * im.shape[-2] for im in images], dtype=torch.float64)
        else:
            areas = torch.ones(len(images), dtype=torch.float64)
        self.weights = areas / areas.sum()

    def __len__(self) -> int:
        return self.length

    def get(self, index: int, gen: torch.Generator) -> torch.Tensor:
        return random_patch(self.images, self.weights, self.patch, gen)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index, torch.Generator().manual_seed(index))


def _train_defaults() -> dict[str, Any]:
    """The schedule both restoration tasks start from (a fresh dict: configs are merged into it)."""
    return {
        "steps": 3000,
        "batch_size": 16,
        "lr": 1e-3,
        "log_every": 20,
        "ckpt_every": 250,
        "eval_every": 250,
        "schedule": {"type": "cosine", "warmup": 0},
    }


class _PhotoTask(TrainTask):
    """What the denoising and inpainting tasks share: one network trained with Adam, scored on
    held-out photos read once (``data.eval``; none: no evaluation), optionally started from the
    weights of an earlier run (``init.weights``: fine-tuning on new photos costs a fraction of a
    fresh run's CPU time)."""

    export_net = "model"
    _refs: list | None = None

    def _initialise(self, model: nn.Module, cfg: dict[str, Any]) -> nn.Module:
        """Load ``init.weights`` (a safetensors or weights-only file of this network's layout) strictly."""
        path = (cfg.get("init") or {}).get("weights")
        if path:
            state = {k: v.float() for k, v in load_state_dict(path).items()}
            load_strict(model, state, str(path), note="init.weights")
        return model

    def build_optimizers(
        self, nets: dict[str, nn.Module], cfg: dict[str, Any]
    ) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(nets["model"].parameters(), lr=float(cfg["train"]["lr"]))}

    def _references(self, d: dict[str, Any]) -> list | None:
        if not d.get("eval"):
            return None
        if self._refs is None:
            self._refs = reference_images(d["eval"], d.get("eval_max_side"))
        return self._refs


class DenoiseTask(_PhotoTask):
    best_metric = ("psnr", "max")

    def __init__(self, card_name: str):
        self.name = card_name
        self.default_config = {
            "model": dict(RECIPES[card_name]),
            "data": {
                "patch": 40,
                "epoch_length": 3200,
                "sigma": None,  # a number: fixed-σ model; null: blind over sigma_range
                "sigma_range": [0.0, 55.0],
                "eval": "builtin:skimage-photos:heldout",
                "eval_max_side": 128,
                "eval_sigma": 25.0,
                "sample": "area",
            },
            "init": {"weights": None},
            "train": _train_defaults(),
        }
        self.config_fields = {
            **fields_from(DnCNN, "model"),
            "data.patch": Field("int", ge=8),
            "data.epoch_length": Field("int", ge=1),
            "data.sigma": Field("float", optional=True, ge=0, le=255),
            "data.sigma_range": Field("list", item="float"),
            "data.eval": Field("str", optional=True),
            "data.eval_max_side": Field("int", optional=True, ge=1),
            "data.eval_sigma": Field("float", ge=0, le=255),
            "data.sample": Field("str", choices=SAMPLING),
            "init.weights": Field("str", optional=True),
        }

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        model = make_module(self.name, cfg["model"])
        for m in model.modules():  # He init for the ReLU stack; small last layer: start near identity
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        last = model.model[-1]
        nn.init.normal_(last.weight, std=1e-3)
        return {"model": self._initialise(model, cfg)}

    def build_dataset(self, data: Any, cfg: dict[str, Any]) -> Patches:
        d = cfg["data"]
        lo, hi = _sigma_range(d)
        if not 0 <= lo <= hi <= 255:
            raise UsageError(f"data.sigma_range {d['sigma_range']}: need 0 <= low <= high <= 255")
        return Patches(
            resolve_data(data),
            int(d["patch"]),
            int(d["epoch_length"]),
            int(cfg["model"]["channels"]),
            str(d.get("sample", "area")),
        )

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        clean = batch
        d = ctx.cfg["data"]
        n = clean.shape[0]
        if d.get("sigma") is not None:
            sigma = torch.full((n, 1, 1, 1), float(d["sigma"]) / 255.0, device=clean.device)
        else:
            lo, hi = _sigma_range(d)
            sigma = (lo + (hi - lo) * ctx.rand(n)).view(n, 1, 1, 1) / 255.0
        noisy = clean + sigma * ctx.randn(*clean.shape)
        with ctx.autocast():
            out = ctx.nets["model"](noisy)
        loss = F.mse_loss(out.float(), clean)
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {"mse": loss.detach()}

    def evaluate(self, nets: dict[str, nn.Module], ctx) -> dict[str, float] | None:
        refs = self._references(ctx.cfg["data"])
        if refs is None:
            return None
        model = nets["model"]
        dev = next(model.parameters()).device
        sigma = float(ctx.cfg["data"]["eval_sigma"])
        report = evaluate_denoiser(lambda x, s: model(x.to(dev)).float().cpu(), refs, (sigma,))
        return {"psnr": report["summary"][f"psnr_{sigma:g}"], "ssim": report["summary"][f"ssim_{sigma:g}"]}

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        d = cfg["data"]
        noise = (
            {"sigma": d["sigma"]} if d.get("sigma") is not None else {"sigma_range": list(_sigma_range(d))}
        )
        return {"layout": "dncnn-kair-bn" if cfg["model"]["bn"] else "dncnn-kair", **cfg["model"], **noise}


def _sigma_range(d: dict[str, Any]) -> tuple[float, float]:
    lo, hi = (list(d["sigma_range"]) + [55.0, 55.0])[:2]
    return float(lo), float(hi)


#: Squared-error floor of :func:`hole_psnr` (about 50 dB): 8-bit rounding alone leaves (1/255)²/12,
#: and a crop whose hole is filled exactly must not dominate the batch's gradient
PSNR_FLOOR = 1e-5


def hole_psnr(err: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """PSNR (dB, peak 1) of each sample's error ``err`` (N×C×H×W) over its hole ``hole`` (N×1×H×W)."""
    pixels = (hole.sum((1, 2, 3)) * err.shape[1]).clamp(min=1)
    mse = (err.square() * hole).sum((1, 2, 3)) / pixels
    return -10 * torch.log10(mse + PSNR_FLOOR)


class HolePatches(Patches):
    """Random crops with a free-form hole each (strokes and boxes covering ``coverage``, drawn at
    a stroke scale from ``scale``), from the trainer's generator so a resumed run sees the same holes."""

    def __init__(
        self,
        source: Any,
        patch: int,
        length: int,
        coverage: tuple[float, float],
        scale: tuple[float, float] = (1.0, 1.0),
        sample: str = "area",
    ):
        super().__init__(source, patch, length, 3, sample)
        self.coverage, self.scale = coverage, scale

    def get(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        import numpy as np

        from .masks import random_mask

        crop = super().get(index, gen)
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
        scale = float(rng.uniform(*self.scale))
        hole = random_mask(self.patch, self.patch, rng, self.coverage, scale)
        if hole.all():  # a box as large as the crop: nothing to fill from
            hole[: self.patch // 2] = False
        return crop, torch.from_numpy(hole)[None].float()


class InpaintTask(_PhotoTask):
    """L1 or squared error (``loss.type``) over the hole's pixels, scaled by ``loss.hole`` (the
    output outside the hole is the input), or minus the batch's mean per-crop PSNR in the hole
    (``loss.type=psnr``, ``loss.hole`` unused); Adam, optionally with a moving average of the
    weights (``ema.decay``); PSNR inside seeded holes on ``data.eval`` picks the ``best`` checkpoint.

    ``data.mask_scale`` widens the training strokes and boxes (see :func:`.masks.random_mask`): a
    crop is small, while the photos the network fills are several times larger, with holes to match.
    """

    best_metric = ("psnr_hole", "max")

    def __init__(self, card_name: str):
        self.name = card_name
        self.default_config = {
            "model": dict(RECIPES[card_name]),
            "data": {
                "patch": 64,
                "epoch_length": 3200,
                "coverage": [0.05, 0.4],
                "mask_scale": [1.0, 1.0],
                "eval": "builtin:skimage-photos:heldout",
                "eval_max_side": 128,
                "sample": "area",
            },
            "init": {"weights": None},
            # l1, mse, or psnr. mse: the mean squared error is what PSNR scores (a refinement whose
            # residual is mostly unpredictable texture learns the mean under it, the median under
            # L1). psnr: minus the mean over the batch of each crop's PSNR in its hole, what the
            # reports average per image; under mse a textured crop's large error outweighs a smooth
            # one's, so the network learns to add texture that costs the smooth photos dearly
            "loss": {"hole": 6.0, "type": "l1"},
            # decay of an exponential moving average of the weights (0: none); when set, the
            # average is what is evaluated, picked as best and exported
            "ema": {"decay": 0.0},
            "train": _train_defaults(),
        }
        self.config_fields = {
            **fields_from(GatedUNet, "model"),
            "model.out_init": Field("float", ge=0),  # std of the last conv's start; 0: zero
            "model.coarse": Field("str", choices=COARSE),  # biharmonic, or its learned blend with harmonic
            "data.patch": Field("int", ge=16),
            "data.epoch_length": Field("int", ge=1),
            "data.coverage": Field("list", item="float"),
            "data.mask_scale": Field("list", item="float"),
            "data.eval": Field("str", optional=True),
            "data.eval_max_side": Field("int", optional=True, ge=1),
            "loss.hole": Field("float", ge=0),
            "loss.type": Field("str", choices=("l1", "mse", "psnr")),
            "ema.decay": Field("float", ge=0),
            "data.sample": Field("str", choices=SAMPLING),
            "init.weights": Field("str", optional=True),
        }

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        decay = float((cfg.get("ema") or {}).get("decay", 0.0))
        if decay >= 1:
            raise UsageError(f"ema.decay {decay}: need 0 <= decay < 1 (0: no moving average)")
        self.ema = {"model": decay} if decay > 0 else {}  # the trainer keeps nets["model_ema"]
        try:
            model = make_module(self.name, cfg["model"])
        except ValueError as exc:  # settings that are each valid but not together
            raise UsageError(f"model: {exc}") from None
        return {"model": self._initialise(model, cfg)}

    def build_dataset(self, data: Any, cfg: dict[str, Any]) -> HolePatches:
        d = cfg["data"]
        if int(d["patch"]) % 8:
            raise UsageError(f"data.patch {d['patch']}: must be a multiple of 8 (three stride-2 levels)")
        lo, hi = (list(d["coverage"]) + [0.4, 0.4])[:2]
        if not 0 < float(lo) <= float(hi) < 1:
            raise UsageError(f"data.coverage {d['coverage']}: need 0 < low <= high < 1")
        s_lo, s_hi = (list(d.get("mask_scale") or [1.0]) * 2)[:2]
        if not 0 < float(s_lo) <= float(s_hi):
            raise UsageError(f"data.mask_scale {d['mask_scale']}: need 0 < low <= high")
        return HolePatches(
            resolve_data(data),
            int(d["patch"]),
            int(d["epoch_length"]),
            (float(lo), float(hi)),
            (float(s_lo), float(s_hi)),
            str(d.get("sample", "area")),
        )

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        clean, hole = batch
        with ctx.autocast():
            out = ctx.nets["model"](clean, hole)
        err = out.float() - clean
        pixels = (hole.sum() * 3).clamp(min=1)
        hole_l1 = (err.abs() * hole).sum() / pixels
        hole_mse = (err.square() * hole).sum() / pixels
        kind = ctx.cfg["loss"].get("type", "l1")
        if kind == "psnr":
            loss = -hole_psnr(err, hole).mean()
        else:
            loss = float(ctx.cfg["loss"]["hole"]) * (hole_mse if kind == "mse" else hole_l1)
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {"l1_hole": hole_l1.detach(), "mse_hole": hole_mse.detach()}

    def evaluate(self, nets: dict[str, nn.Module], ctx) -> dict[str, float] | None:
        refs = self._references(ctx.cfg["data"])
        if refs is None:
            return None
        model = nets.get("model_ema", nets["model"])
        dev = next(model.parameters()).device

        def run(x: torch.Tensor, hole) -> torch.Tensor:
            mask = torch.from_numpy(hole)[None, None].float().to(dev)
            return model.fill(x.to(dev), mask).float().cpu()

        report = evaluate_inpainter(run, refs)
        return {"psnr_hole": report["summary"]["psnr_hole"], "psnr": report["summary"]["psnr"]}

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        return {"layout": "gated-unet", **cfg["model"]}
