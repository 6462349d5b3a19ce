"""Training tasks for the shared trainer: ``vae``, ``beta-vae`` and ``svae``.

The three differ in their defaults only (objective, data, conditioning); the step is the same:
one reparameterised sample, reconstruction NLL + weighted KL, logged as ``recon``, ``kl`` and
``elbo`` in nats per image. ``active_dims`` counts latent dimensions whose batch KL exceeds
``loss.active_kl`` nats; when almost none are active the run warns about posterior collapse.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import Field, TrainTask, UsageError, deep_merge

from ._arch import ConvVAE, VAEConfig
from .losses import Objective, capacity, elbo_terms, training_loss
from .shapes import ShapesDataset
from .sketch import METHODS, extract_sketch

BASE_CONFIG: dict[str, Any] = {
    "train": {
        "steps": 3000,
        "batch_size": 64,
        "lr": 1e-3,
        "log_every": 50,
        "sample_every": 1000,
        "ckpt_every": 1000,
    },
    "model": {
        "in_channels": 1,
        "image_size": 32,
        "latent_dim": 16,
        "width": 32,
        "depth": 3,
        "max_width": 128,
        "hidden": 256,
        "likelihood": "bce",
        "learn_sigma": False,
        "sigma": 0.1,
    },
    "loss": {
        "objective": "vae",
        "beta": 1.0,
        "gamma": 1000.0,
        "c_max": 25.0,
        "c_steps": 10000,
        "kl_warmup": 0,
        "active_kl": 0.01,
    },
    "data": {
        "dequantize": False,
        "heldout": None,
        "heldout_size": 256,
        "crop_min": 0.3,
        "length": 4000,
        "flip": True,
        "shapes_n": 20000,
        "shapes_seed": 0,
    },
    "sketch": {"method": "xdog"},
}


def _image_of(item: Any) -> torch.Tensor:
    if isinstance(item, dict):
        return item["image"]
    if isinstance(item, (tuple, list)):
        return item[0]
    return item


def _to_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    if x.shape[-3] == channels:
        return x
    if channels == 1:
        from .sketch import to_grey

        return to_grey(x[None])[0] if x.ndim == 3 else to_grey(x)
    return x.expand(*x.shape[:-3], 3, *x.shape[-2:]) if x.shape[-3] == 1 else x[..., :3, :, :]


def _shrink(img: torch.Tensor, short: int) -> torch.Tensor:
    h, w = img.shape[-2:]
    if min(h, w) <= short:
        return img
    f = short / min(h, w)
    size = (max(short, round(h * f)), max(short, round(w * f)))
    return torch.nn.functional.interpolate(img[None], size=size, mode="area")[0]


class ImageSet:
    """Images at the model's size and channels. Sources already at that size are used as they are;
    larger ones (photographs) give random square crops of ``crop_min``–1 of the short side, resized
    and randomly flipped, ``length`` per epoch, reproducible from the trainer's per-item generator."""

    def __init__(
        self,
        source: Any,
        size: int,
        channels: int,
        crop_min: float = 0.3,
        length: int = 4000,
        flip: bool = True,
        augment: bool = True,
    ):
        self.images = [_image_of(source[i]).float() for i in range(len(source))]
        if not self.images:
            raise UsageError("the training data holds no images")
        self.size, self.channels = size, channels
        self.crop_min, self.flip = crop_min, flip
        self.fixed = all(tuple(im.shape[-2:]) == (size, size) for im in self.images)
        self.augment = augment and not self.fixed
        self.length = length if self.augment else len(self.images)
        if self.augment:
            # Shrink big photographs once so the smallest crop is about the model size: per-item
            # resizing then touches a few hundred pixels instead of megapixels.
            self.images = [_shrink(im, math.ceil(size / max(crop_min, 0.05))) for im in self.images]

    def __len__(self) -> int:
        return self.length

    def get(self, index: int, gen: torch.Generator) -> torch.Tensor:
        from .ops import resize

        if not self.augment:
            return _to_channels(
                resize(self.images[index % len(self.images)][None], self.size)[0], self.channels
            )
        img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
        h, w = img.shape[-2:]
        short = min(h, w)
        frac = self.crop_min + (1 - self.crop_min) * float(torch.rand(1, generator=gen))
        side = max(self.size // 2, int(short * frac))
        side = min(side, short)
        y = int(torch.randint(0, h - side + 1, (1,), generator=gen))
        x = int(torch.randint(0, w - side + 1, (1,), generator=gen))
        crop = resize(img[None, :, y : y + side, x : x + side], self.size)[0]
        if self.flip and float(torch.rand(1, generator=gen)) < 0.5:
            crop = crop.flip(-1)
        return _to_channels(crop.contiguous(), self.channels)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index, torch.Generator().manual_seed(index))


def load_source(spec: Any, cfg: dict[str, Any], split: str = "") -> Any:
    """``builtin:shapes`` is ours (the synthetic factor set); every other spec goes to the core."""
    text = str(spec) if spec is not None else None
    size = int(cfg["model"]["image_size"])
    if text is not None and text.startswith("builtin:shapes"):
        d = cfg["data"]
        held = text.endswith(":heldout") or split == "heldout"
        n = int(cfg["data"].get("heldout_size", 256)) if held else int(d["shapes_n"])
        seed = int(d["shapes_seed"]) + (1_000_003 if held else 0)
        return ShapesDataset(n, size=size, seed=seed)
    from genedit_core.sdk import resolve_data

    return resolve_data(text, size=size, channels=int(cfg["model"]["in_channels"]))


class VAETask(TrainTask):
    name = "vae"
    export_net = "model"
    generative = True
    best_metric = None
    default_config = deep_merge(BASE_CONFIG, {"loss": {"objective": "vae"}})
    config_fields = {
        "loss.prior_fit": Field("bool"),
        "sketch.method": Field("str", choices=tuple(METHODS)),
    }

    def __init__(self) -> None:
        self.heldout: torch.Tensor | None = None
        self.preview: torch.Tensor | None = None
        self.arch: VAEConfig | None = None
        self.objective: Objective | None = None

    # -- building ---------------------------------------------------------------------------------
    def arch_config(self, cfg: dict[str, Any]) -> VAEConfig:
        return VAEConfig.from_dict(dict(cfg["model"]))

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, torch.nn.Module]:
        try:
            self.arch = self.arch_config(cfg)
        except (TypeError, ValueError) as exc:
            raise UsageError(f"model section: {exc}") from None
        loss = cfg["loss"]
        try:
            self.objective = Objective(
                kind=str(loss["objective"]),
                beta=float(loss["beta"]),
                gamma=float(loss["gamma"]),
                c_max=float(loss["c_max"]),
                c_steps=int(loss["c_steps"]),
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return {"model": ConvVAE(self.arch)}

    def build_optimizers(self, nets, cfg):
        return {"model": torch.optim.Adam(nets["model"].parameters(), lr=float(cfg["train"]["lr"]))}

    def build_dataset(self, data: Path | None, cfg: dict[str, Any]) -> Any:
        d = cfg["data"]
        size, channels = int(cfg["model"]["image_size"]), int(cfg["model"]["in_channels"])
        source = load_source(data, cfg)
        train = ImageSet(source, size, channels, float(d["crop_min"]), int(d["length"]), bool(d["flip"]))
        held_spec = d.get("heldout")
        if held_spec:
            held = ImageSet(load_source(held_spec, cfg, "heldout"), size, channels, augment=False)
            n = min(len(held), int(d.get("heldout_size", 256)))
            self.heldout = torch.stack([held.get(i, torch.Generator().manual_seed(i)) for i in range(n)])
            if d.get("dequantize"):
                self.heldout = dequantize(self.heldout, torch.Generator().manual_seed(0))
        gen = torch.Generator().manual_seed(12345)
        self.preview = torch.stack([train.get(i, gen) for i in range(12)])
        return train

    # -- one step ---------------------------------------------------------------------------------
    def inputs(self, batch: Any, ctx) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = _image_of(batch).float()
        if ctx.cfg["data"].get("dequantize"):
            x = (torch.round(x * 255) + ctx.rand(*x.shape)) / 256
        return x, None

    def prior_fit(self, cfg: dict[str, Any]) -> bool:
        """``loss.prior_fit`` (conditional models, β/capacity objectives): fit p(z|s) to q separately."""
        assert self.objective is not None
        return bool(cfg["loss"].get("prior_fit", False)) and self.objective.kind != "vae"

    def kl_weight(self, step: int, cfg: dict[str, Any]) -> float:
        warm = int(cfg["loss"].get("kl_warmup") or 0)
        return min(1.0, (step + 1) / warm) if warm else 1.0

    def train_step(self, batch: Any, ctx) -> dict[str, float]:
        model = ctx.nets["model"]
        x, sketch = self.inputs(batch, ctx)
        assert self.objective is not None
        with ctx.autocast():
            eps = ctx.randn(x.shape[0], self.arch.latent_dim)
            t = elbo_terms(model, x, sketch, eps=eps)
        weight = self.kl_weight(ctx.step, ctx.cfg)
        loss, recon, kl = training_loss(t, self.objective, ctx.step, weight, self.prior_fit(ctx.cfg))
        ctx.backward(loss)
        ctx.step_optimizer("model")
        kl_dims = t["kl_dims"].detach().float().mean(0)
        active = int((kl_dims > float(ctx.cfg["loss"]["active_kl"])).sum())
        out = {
            "loss": loss.detach(),
            "recon": recon.detach(),
            "kl": kl.detach(),
            "elbo": -(recon + kl).detach(),
            "active_dims": float(active),
        }
        if self.objective.kind == "capacity":
            out["capacity"] = capacity(ctx.step, self.objective.c_max, self.objective.c_steps)
        return out

    # -- reporting --------------------------------------------------------------------------------
    def check(self, metrics: dict[str, float], ctx) -> list[str]:
        if not math.isfinite(float(metrics.get("loss", 0.0))):
            return [
                "the loss is not finite: training diverged. Lower train.lr, set train.grad_clip "
                "(e.g. {type: norm, max: 100}), or raise model.sigma"
            ]
        if "active_dims" not in metrics or ctx.step < max(50, int(ctx.cfg["train"]["steps"]) // 10):
            return []
        d = self.arch.latent_dim
        active = metrics["active_dims"]
        if active <= max(1, d // 10):
            thr = ctx.cfg["loss"]["active_kl"]
            return [
                f"posterior collapse: only {active:.0f} of {d} latent dimensions carry information "
                f"(batch KL > {thr} nats); the decoder is ignoring z. Lower loss.beta / loss.gamma, raise "
                "loss.c_max, or warm the KL up with loss.kl_warmup"
            ]
        return []

    def sample(self, nets, ctx) -> torch.Tensor | None:
        """A 6×6 grid. Unconditional: originals / reconstructions twice, then two rows of prior
        samples. SVAE: sketch, original, prior-mean output and three samples per column."""
        model = nets["model"]
        dev = next(model.parameters()).device
        gen = torch.Generator().manual_seed(0)
        if not self.arch.conditional:
            x = self.preview[:12].to(dev)
            rec = model.decode(model.encode(x)[0])
            samples = model.decode(torch.randn(12, self.arch.latent_dim, generator=gen).to(dev))
            return torch.cat([x[:6], rec[:6], x[6:], rec[6:], samples]).float()
        x = self.preview[:6].to(dev)
        sketch = self.preview_sketch(x)
        p_mu, p_logvar = model.prior(sketch)
        rows = [sketch.expand(-1, x.shape[1], -1, -1), x, model.decode(p_mu, sketch)]
        for _ in range(3):
            eps = torch.randn(6, self.arch.latent_dim, generator=gen).to(dev)
            rows.append(model.decode(p_mu + eps * (0.5 * p_logvar).exp(), sketch))
        return torch.cat(rows).float()

    def preview_sketch(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def evaluate(self, nets, ctx) -> dict[str, float] | None:
        if self.heldout is None:
            return None
        return heldout_elbo(nets["model"], self.heldout.to(ctx.device), self.sketch_of)

    def sketch_of(self, x: torch.Tensor) -> torch.Tensor | None:
        return None

    def export_config(self, nets, cfg) -> dict[str, Any]:
        return {
            "arch": nets["model"].config.to_dict(),
            "sketch_method": cfg.get("sketch", {}).get("method", "xdog"),
            "objective": dict(cfg["loss"]),
        }


class BetaVAETask(VAETask):
    name = "beta-vae"
    default_config = deep_merge(
        BASE_CONFIG,
        {"model": {"in_channels": 3, "latent_dim": 10}, "loss": {"objective": "beta", "beta": 4.0}},
    )


class SVAETask(VAETask):
    name = "svae"
    default_config = deep_merge(
        BASE_CONFIG,
        {
            "model": {
                "in_channels": 3,
                "image_size": 64,
                "depth": 4,
                "latent_dim": 16,
                "cond_channels": 1,
                "likelihood": "gaussian",
                "sigma": 0.1,
            },
            "loss": {"kl_warmup": 500},
        },
    )

    def arch_config(self, cfg: dict[str, Any]) -> VAEConfig:
        model = dict(cfg["model"])
        model["cond_channels"] = max(1, int(model.get("cond_channels") or 1))
        method = cfg.get("sketch", {}).get("method", "xdog")
        if method not in METHODS:
            raise ValueError(f"sketch.method '{method}': use {' or '.join(METHODS)}")
        return VAEConfig.from_dict(model)

    def sketch_of(self, x: torch.Tensor) -> torch.Tensor:
        return extract_sketch(x, self.method)

    @property
    def method(self) -> str:
        return self._method

    def build_networks(self, cfg):
        self._method = cfg.get("sketch", {}).get("method", "xdog")
        return super().build_networks(cfg)

    def inputs(self, batch, ctx):
        x, _ = super().inputs(batch, ctx)
        return x, extract_sketch(x, self.method)

    def preview_sketch(self, x):
        return extract_sketch(x, self.method)


def dequantize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """8-bit values spread uniformly over their bin, (k + u) / 256: the usual way to make a continuous
    density (Gaussian decoder, diagonal Gaussian) comparable on image data, in nats of [0, 1]^D."""
    return (torch.round(x.clamp(0, 1) * 255) + torch.rand(x.shape, generator=generator).to(x)) / 256


@torch.no_grad()
def heldout_elbo(model, x: torch.Tensor, sketch_of=None, batch: int = 128, seed: int = 0) -> dict[str, float]:
    """Mean −ELBO, reconstruction NLL and KL (nats per image) over ``x`` with fixed noise."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    totals = {"neg_elbo": 0.0, "recon": 0.0, "kl": 0.0}
    for i in range(0, x.shape[0], batch):
        xb = x[i : i + batch]
        s = sketch_of(xb) if sketch_of is not None else None
        eps = torch.randn(xb.shape[0], model.config.latent_dim, generator=gen).to(xb)
        t = elbo_terms(model, xb, s, eps=eps)
        totals["neg_elbo"] += float(-t["elbo"].sum())
        totals["recon"] += float(t["recon"].sum())
        totals["kl"] += float(t["kl"].sum())
    return {k: v / x.shape[0] for k, v in totals.items()}


TASKS = {"vae": VAETask, "beta-vae": BetaVAETask, "svae": SVAETask}


def make_task(request) -> TrainTask:
    cls = TASKS.get(request.card.name)
    if cls is None:
        raise UsageError(f"{request.card.name} cannot be trained")
    return cls()


def task_config(name: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full config (core defaults < task defaults < ``overrides``) for scripts and tests."""
    from genedit_core.sdk import load_config

    cfg = load_config(copy.deepcopy(TASKS[name].default_config))
    return deep_merge(cfg, overrides or {})


def nats_to_bits_per_dim(nats: float, dims: int) -> float:
    return nats / (dims * math.log(2))
