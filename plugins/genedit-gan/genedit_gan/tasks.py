"""Training tasks for the shared trainer: one multi-network step per GAN family.

Each step updates D, then G, through ``ctx.backward`` / ``ctx.step_optimizer``; D's parameters are
frozen during the G update so its gradients never leak into the next D step. All noise comes from
``ctx.randn``/``ctx.rand``/``ctx.randint`` so a resumed run is bit-identical.

Logged per step: ``d_loss``, ``g_loss``, D's mean outputs on real and fake images, and
``diversity`` (mean pairwise distance of the fake batch over that of the real batch), which
:meth:`GANTask.check` turns into warnings for a collapsed discriminator or a collapsed generator.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, UsageError

from .losses import (
    d_hinge,
    d_logistic,
    diff_augment,
    g_hinge,
    g_logistic,
    orthogonal_reg,
    parse_diffaug,
    path_length_penalty,
    r1_penalty,
)

SAMPLE_SEED = 1234
N_SAMPLES = 64
DIGIT_NAMES = [str(i) for i in range(10)]


class ResizedImages:
    """Any dataset of C×H×W images in 0–1 (optionally with labels) as ``size``² in [-1, 1], ``nc`` channels."""

    def __init__(self, source: Any, size: int, nc: int, hflip: bool = False):
        self.source, self.size, self.nc, self.hflip = source, size, nc, hflip

    def __len__(self) -> int:
        return len(self.source)

    def get(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, int]:
        item = self.source[index]
        img, label = (item[0], int(item[1])) if isinstance(item, tuple) else (item, 0)
        img = _fit(img, self.size, self.nc)
        if self.hflip and int(torch.randint(0, 2, (1,), generator=gen)):
            img = img.flip(-1)
        return img * 2 - 1, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.get(index, torch.Generator().manual_seed(index))


def _fit(img: torch.Tensor, size: int, nc: int) -> torch.Tensor:
    c, h, w = img.shape
    if c != nc:
        img = img.mean(0, keepdim=True) if nc == 1 else img[:1].expand(nc, h, w) if c == 1 else img[:nc]
    if (h, w) != (size, size):
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img = img[:, top : top + s, left : left + s]
        img = F.interpolate(
            img[None], size=(size, size), mode="area" if s > size else "bilinear", antialias=False
        )[0]
    return img.float().contiguous()


def _diversity(fake: torch.Tensor, real: torch.Tensor) -> float:
    """Mean pairwise L2 distance of the fakes relative to the reals (≈1 healthy, →0 one mode)."""
    f, r = fake.detach().flatten(1).float(), real.detach().flatten(1).float()
    if f.shape[0] < 2:
        return 1.0
    return float(torch.pdist(f).mean() / torch.pdist(r).mean().clamp_min(1e-8))


class GANTask(TrainTask):
    """Shared pieces: data, fixed-noise samples, exported config, collapse warnings."""

    generative = True
    export_net = "g"
    conditional = False
    # read with a fallback, so no family's defaults list them
    config_fields = {
        "data.hflip": Field("bool"),
        "ema.g": Field("float", ge=0, le=1),
        "loss.warn_after": Field("int", ge=0),
        "loss.diffaug": Field("str", optional=True),
        "optim.g.eps": Field("float", gt=0),
        "optim.d.eps": Field("float", gt=0),
        "model.output_size": Field("int", optional=True, ge=1),
    }
    d_collapse = 1e-3
    min_diversity = 0.15

    def build_dataset(self, data: Path | str | None, cfg: dict[str, Any]) -> Any:
        from genedit_core.sdk import resolve_data

        m = cfg["model"]
        spec = data if data is not None else cfg.get("data", {}).get("source")
        source = resolve_data(spec, size=int(m["size"]), channels=int(m["nc"]))
        return ResizedImages(
            source, int(m["size"]), int(m["nc"]), bool(cfg.get("data", {}).get("hflip", False))
        )

    def set_ema(self, cfg) -> None:
        """``ema.g`` > 0 keeps an EMA copy of G, exported instead of G. Short runs want a smaller
        decay: after n steps the copy still holds decay**n of the random initial weights."""
        decay = float((cfg.get("ema") or {}).get("g", 0.0))
        self.ema = {"g": decay} if decay > 0 else {}

    def gen(self, nets: dict[str, nn.Module]) -> nn.Module:
        return nets.get("g_ema", nets["g"])

    def fixed_latents(self, nets: dict[str, nn.Module], device) -> torch.Tensor:
        g = torch.Generator().manual_seed(SAMPLE_SEED)
        return torch.randn(N_SAMPLES, self.latent_size(nets), generator=g).to(device)

    def latent_size(self, nets) -> int:
        return int(nets["g"].nz)

    def sample(self, nets: dict[str, nn.Module], ctx) -> torch.Tensor:
        z = self.fixed_latents(nets, ctx.device)
        return ((self.gen(nets)(z) + 1) / 2).clamp(0, 1)

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        g = nets["g"]
        hp = g.hyperparameters() if hasattr(g, "hyperparameters") else {}
        out: dict[str, Any] = {"model": self.name, "arch": hp}
        if cfg["model"].get("output_size"):
            # shown at this size by bilinear upsampling (see sampling.to_output_size)
            out["output_size"] = int(cfg["model"]["output_size"])
        source = str(cfg.get("data", {}).get("source") or "")
        if source.startswith("builtin:digits"):
            out["class_names"] = DIGIT_NAMES
            out["dataset"] = "builtin:digits"
        return out

    def check(self, metrics: dict[str, float], ctx) -> list[str]:
        """Collapse warnings, after ``loss.warn_after`` steps (a fresh G is near-constant by design)."""
        for k, v in metrics.items():
            if not math.isfinite(float(v)):
                return [f"{k} is {v}: training diverged; lower the learning rate or resume from a checkpoint"]
        out: list[str] = []
        warn_after = int((ctx.cfg.get("loss") or {}).get("warn_after", 500)) if ctx is not None else 500
        if ctx is not None and ctx.step + 1 < warn_after:
            return out
        d = metrics.get("d_loss")
        if d is not None and math.isfinite(d) and abs(d) < self.d_collapse:
            out.append(
                f"discriminator loss collapsed to ~0 ({d:.2g}): G gets no useful gradient. Lower the D "
                "learning rate, add data or augmentation, or restart from an earlier checkpoint."
            )
        div = metrics.get("diversity")
        if div is not None and div < self.min_diversity:
            out.append(
                f"mode collapse: the fake batch is {div:.2f}× as diverse as the real one (samples look alike). "
                "Restart from an earlier checkpoint, lower the learning rates or raise the batch size."
            )
        return out

    def augmenter(self, ctx):
        """``loss.diffaug`` as a function on batches (identity when off), drawing from the step's noise.

        Every family takes it: with the 1,500 digits D memorises the training set without it."""
        policies = parse_diffaug((ctx.cfg.get("loss") or {}).get("diffaug"))
        if not policies:
            return lambda x: x
        return lambda x: diff_augment(x, policies, ctx.rand, ctx.randint)

    def _adam(self, params, cfg: dict[str, Any], which: str) -> torch.optim.Optimizer:
        o = cfg["optim"][which]
        return torch.optim.Adam(
            params, lr=float(o["lr"]), betas=tuple(o["betas"]), eps=float(o.get("eps", 1e-8))
        )

    def build_optimizers(self, nets, cfg):
        return {
            "d": self._adam(nets["d"].parameters(), cfg, "d"),
            "g": self._adam(nets["g"].parameters(), cfg, "g"),
        }


class _BCEStepMixin:
    """Non-saturating GAN loss (BCE with logits), the loss of the GAN and DCGAN papers.

    ``loss.real_label`` < 1 is one-sided label smoothing (Salimans et al. 2016): D's target for real
    images, which keeps D from becoming over-confident. ``loss.diffaug`` (e.g. ``translation,cutout``)
    turns on differentiable augmentation of everything D sees, for small datasets. ``ema.g`` > 0 keeps an EMA copy of G that is
    exported instead of G (off by default, as in the papers).
    """

    config_fields = {"loss.real_label": Field("float", gt=0, le=1)}

    def train_step(self, batch, ctx) -> dict[str, float]:
        real, _ = batch
        g, d = ctx.nets["g"], ctx.nets["d"]
        n = real.shape[0]
        loss_cfg = ctx.cfg.get("loss") or {}
        aug = self.augmenter(ctx)
        z = ctx.randn(n, self.latent_size(ctx.raw_nets))
        ctx.raw_nets["d"].requires_grad_(True)
        with ctx.autocast():
            with torch.no_grad():
                fake = g(z)
            d_real, d_fake = d(aug(real)), d(aug(fake))
            d_loss = d_logistic(d_real, d_fake, float(loss_cfg.get("real_label", 1.0)))
        ctx.backward(d_loss)
        ctx.step_optimizer("d")
        ctx.raw_nets["d"].requires_grad_(False)
        with ctx.autocast():
            fake = g(ctx.randn(n, self.latent_size(ctx.raw_nets)))
            g_loss = g_logistic(d(aug(fake)))
        ctx.backward(g_loss)
        ctx.step_optimizer("g")
        ctx.raw_nets["d"].requires_grad_(True)
        return {
            "d_loss": float(d_loss.detach()),
            "g_loss": float(g_loss.detach()),
            "d_real": float(torch.sigmoid(d_real.detach().float()).mean()),
            "d_fake": float(torch.sigmoid(d_fake.detach().float()).mean()),
            "diversity": _diversity(fake, real),
        }


class DCGANTask(_BCEStepMixin, GANTask):
    name = "dcgan"
    default_config = {
        "model": {"nz": 100, "ngf": 64, "ndf": 64, "nc": 3, "size": 64},
        "loss": {"real_label": 1.0},
        "ema": {"g": 0.0},
        "optim": {"g": {"lr": 2e-4, "betas": [0.5, 0.999]}, "d": {"lr": 2e-4, "betas": [0.5, 0.999]}},
        "train": {"batch_size": 64, "steps": 5000, "sample_every": 500, "ckpt_every": 1000, "log_every": 50},
    }

    def build_networks(self, cfg):
        from ._arch.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init

        m = cfg["model"]
        g = DCGANGenerator(int(m["nz"]), int(m["ngf"]), int(m["nc"]), int(m["size"]))
        d = DCGANDiscriminator(int(m["ndf"]), int(m["nc"]), int(m["size"]))
        dcgan_init(g)
        dcgan_init(d)
        self.set_ema(cfg)
        return {"g": g, "d": d}

    def export_config(self, nets, cfg):
        g = nets["g"]
        return {
            **super().export_config(nets, cfg),
            "arch": {"nz": g.nz, "ngf": g.ngf, "nc": g.nc, "size": g.size},
        }


class MLPGANTask(_BCEStepMixin, GANTask):
    name = "gan"
    default_config = {
        "model": {
            "nz": 100,
            "g_hidden": [256, 512, 1024],
            "d_hidden": [1024, 512, 256],
            "nc": 1,
            "size": 28,
            "dropout": 0.3,
        },
        "optim": {"g": {"lr": 2e-4, "betas": [0.5, 0.999]}, "d": {"lr": 2e-4, "betas": [0.5, 0.999]}},
        "train": {"batch_size": 64, "steps": 5000, "sample_every": 500, "ckpt_every": 1000, "log_every": 50},
    }

    def build_networks(self, cfg):
        from ._arch.mlp import MLPDiscriminator, MLPGenerator

        m = cfg["model"]
        g = MLPGenerator(int(m["nz"]), tuple(int(h) for h in m["g_hidden"]), int(m["nc"]), int(m["size"]))
        d = MLPDiscriminator(
            tuple(int(h) for h in m["d_hidden"]), int(m["nc"]), int(m["size"]), float(m["dropout"])
        )
        self.set_ema(cfg)
        return {"g": g, "d": d}

    def export_config(self, nets, cfg):
        g = nets["g"]
        return {**super().export_config(nets, cfg), "arch": {"nc": g.nc, "size": g.size}}


class BigGANTask(GANTask):
    """Hinge loss, orthogonal regularisation of G, EMA of G, class-conditional on the data's labels."""

    name = "biggan"
    conditional = True
    d_collapse = -1.0  # hinge D loss is >= 0 only at its optimum, so "collapse" is judged by diversity
    config_fields = {
        "model.g_attention": Field("int", optional=True),
        "model.d_attention": Field("int", optional=True),
    }
    default_config = {
        "model": {
            "z_dim": 120,
            "embed_dim": 128,
            "channel_width": 64,
            "num_classes": 1000,
            "size": 128,
            "nc": 3,
            "hierarchical": True,
            "g_attention": 2,
            "d_attention": 1,
            "d_width": 64,
        },
        "loss": {"ortho": 1e-4},
        "ema": {"g": 0.999},
        "optim": {"g": {"lr": 1e-4, "betas": [0.0, 0.999]}, "d": {"lr": 4e-4, "betas": [0.0, 0.999]}},
        "train": {"batch_size": 64, "steps": 20000, "sample_every": 500, "ckpt_every": 1000, "log_every": 50},
    }

    def build_networks(self, cfg):
        from ._arch.biggan import BigGAN, ProjectionDiscriminator

        m = cfg["model"]
        size, ch = int(m["size"]), int(m["channel_width"])
        n_up = int(round(math.log2(size))) - 2
        if 4 * 2**n_up != size:
            raise UsageError(f"model.size {size}: BigGAN needs a power of two >= 8")
        mults = [2 ** min(4, n_up - i) for i in range(n_up + 1)]  # 16, 8, 4, 2, 1 at 64×64
        layers = [(True, mults[i], mults[i + 1]) for i in range(n_up)]
        g = BigGAN(
            z_dim=int(m["z_dim"]),
            embed_dim=int(m["embed_dim"]),
            num_classes=int(m["num_classes"]),
            channel_width=ch,
            layers=layers,
            attention_pos=m.get("g_attention"),
            n_stats=1,
            hierarchical=bool(m["hierarchical"]),
            rgb_out=int(m["nc"]),
            img_channels=int(m["nc"]),
        )
        dw = int(m["d_width"])
        d_channels = [dw * mults[n_up - i] for i in range(n_up + 1)]
        d = ProjectionDiscriminator(d_channels, int(m["num_classes"]), int(m["nc"]), m.get("d_attention"))
        self.set_ema(cfg)
        return {"g": g, "d": d}

    def latent_size(self, nets) -> int:
        return int(nets["g"].z_dim)

    def sample(self, nets, ctx) -> torch.Tensor:
        g = self.gen(nets)
        z = self.fixed_latents(nets, ctx.device)
        y = torch.arange(N_SAMPLES, device=ctx.device) % g.num_classes
        return ((g(z, y) + 1) / 2).clamp(0, 1)

    def train_step(self, batch, ctx) -> dict[str, float]:
        real, labels = batch
        g, d = ctx.nets["g"], ctx.nets["d"]
        raw_g = ctx.raw_nets["g"]
        n = real.shape[0]
        nz, ncls = raw_g.z_dim, raw_g.num_classes
        aug = self.augmenter(ctx)
        ctx.raw_nets["d"].requires_grad_(True)
        with ctx.autocast():
            y_fake = ctx.randint(ncls, (n,))
            with torch.no_grad():
                fake = g(ctx.randn(n, nz), y_fake)
            d_real, d_fake = d(aug(real), labels), d(aug(fake), y_fake)
            d_loss = d_hinge(d_real, d_fake)
        ctx.backward(d_loss)
        ctx.step_optimizer("d")
        ctx.raw_nets["d"].requires_grad_(False)
        with ctx.autocast():
            y_fake = ctx.randint(ncls, (n,))
            fake = g(ctx.randn(n, nz), y_fake)
            g_loss = g_hinge(d(aug(fake), y_fake))
        ortho = orthogonal_reg(raw_g, float(ctx.cfg["loss"]["ortho"]))
        ctx.backward(g_loss + ortho)
        ctx.step_optimizer("g")
        ctx.raw_nets["d"].requires_grad_(True)
        return {
            "d_loss": float(d_loss.detach()),
            "g_loss": float(g_loss.detach()),
            "ortho": float(ortho.detach()),
            "d_real": float(d_real.detach().float().mean()),
            "d_fake": float(d_fake.detach().float().mean()),
            "diversity": _diversity(fake, real),
        }

    def export_config(self, nets, cfg):
        out = super().export_config(nets, cfg)
        out["arch"] = nets["g"].hyperparameters()
        return out


class PLState(nn.Module):
    """Holds the running mean of path lengths so that it is checkpointed and resumed with the nets."""

    def __init__(self):
        super().__init__()
        self.register_buffer("pl_mean", torch.zeros(()))


class StyleGAN2Task(GANTask):
    """Non-saturating logistic loss, lazy R1 (D) and path-length (G) regularisation, style mixing, EMA."""

    name = "stylegan2"
    default_config = {
        "model": {
            "size": 256,
            "style_dim": 512,
            "n_mlp": 8,
            "channel_base": 16384,
            "channel_max": 512,
            "lr_mlp": 0.01,
            "nc": 3,
        },
        "ema": {"g": 0.999},
        "loss": {
            "r1": 10.0,
            "d_reg_every": 16,
            "path_regularize": 2.0,
            "path_batch_shrink": 2,
            "g_reg_every": 4,
            "mixing": 0.9,
            "pl_decay": 0.01,
        },
        "optim": {"g": {"lr": 2e-3, "betas": [0.0, 0.99]}, "d": {"lr": 2e-3, "betas": [0.0, 0.99]}},
        "train": {"batch_size": 16, "steps": 20000, "sample_every": 500, "ckpt_every": 1000, "log_every": 50},
    }

    def build_networks(self, cfg):
        from ._arch.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, channel_list

        m = cfg["model"]
        size = int(m["size"])
        ch = channel_list(size, int(m["channel_base"]), int(m["channel_max"]))
        g = StyleGAN2Generator(
            size, int(m["style_dim"]), int(m["n_mlp"]), ch, float(m["lr_mlp"]), int(m["nc"])
        )
        d = StyleGAN2Discriminator(size, ch, int(m["nc"]))
        self.set_ema(cfg)
        return {"g": g, "d": d, "pl": PLState()}

    def build_optimizers(self, nets, cfg):
        """Adam with the lazy-regularisation correction c = k/(k+1) on lr and betas."""
        out = {}
        for name, every in (("g", cfg["loss"]["g_reg_every"]), ("d", cfg["loss"]["d_reg_every"])):
            o = cfg["optim"][name]
            c = every / (every + 1) if every else 1.0
            b1, b2 = o["betas"]
            out[name] = torch.optim.Adam(nets[name].parameters(), lr=float(o["lr"]) * c, betas=(b1**c, b2**c))
        return out

    def latent_size(self, nets) -> int:
        return int(nets["g"].style_dim)

    def sample(self, nets, ctx) -> torch.Tensor:
        g = self.gen(nets)
        z = self.fixed_latents(nets, ctx.device)
        return ((g(z, noise_mode="const") + 1) / 2).clamp(0, 1)

    def _fake(self, g, raw_g, n, ctx, mixing):
        """Fakes and their per-layer styles, with style mixing and per-pixel noise from the step generator."""
        z = ctx.randn(n, raw_g.style_dim)
        z2, idx = None, None
        if mixing > 0 and float(ctx.rand(1)) < mixing:
            z2 = ctx.randn(n, raw_g.style_dim)
            idx = int(ctx.randint(raw_g.n_latent - 1, (1,))) + 1
        noise = [
            torch.randn(
                n, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=ctx.generator, device=ctx.device
            )
            for i in range(raw_g.num_layers)
        ]
        return g(z, z2=z2, mix_index=idx, noise=noise, return_ws=True)

    def train_step(self, batch, ctx) -> dict[str, float]:
        real, _ = batch
        lc = ctx.cfg["loss"]
        g, raw_g, d = ctx.nets["g"], ctx.raw_nets["g"], ctx.nets["d"]
        n = real.shape[0]
        step = ctx.step
        metrics: dict[str, float] = {}
        aug = self.augmenter(ctx)
        ctx.raw_nets["d"].requires_grad_(True)
        with torch.no_grad():
            fake, _ = self._fake(g, raw_g, n, ctx, float(lc["mixing"]))
        d_real, d_fake = d(aug(real)), d(aug(fake))
        d_loss = d_logistic(d_real, d_fake)
        loss = d_loss
        if lc["d_reg_every"] and step % int(lc["d_reg_every"]) == 0:
            # R1 on what D sees, differentiated w.r.t. the un-augmented reals (as DiffAugment does)
            r1 = r1_penalty(lambda x: d(aug(x)), real)
            loss = loss + float(lc["r1"]) / 2 * r1 * int(lc["d_reg_every"])
            metrics["r1"] = float(r1.detach())
        ctx.backward(loss)
        ctx.step_optimizer("d")
        ctx.raw_nets["d"].requires_grad_(False)
        fake, ws = self._fake(g, raw_g, n, ctx, float(lc["mixing"]))
        g_loss = g_logistic(d(aug(fake)))
        loss = g_loss
        if lc["g_reg_every"] and step % int(lc["g_reg_every"]) == 0 and float(lc["path_regularize"]) > 0:
            m = max(1, n // int(lc["path_batch_shrink"]))
            pfake, pws = self._fake(g, raw_g, m, ctx, float(lc["mixing"]))
            pen, lengths = path_length_penalty(
                pfake, pws, ctx.raw_nets["pl"].pl_mean, float(lc["pl_decay"]), ctx
            )
            loss = loss + float(lc["path_regularize"]) * int(lc["g_reg_every"]) * pen
            metrics["path_length"] = float(lengths.mean().detach())
        ctx.backward(loss)
        ctx.step_optimizer("g")
        ctx.raw_nets["d"].requires_grad_(True)
        with torch.no_grad():
            raw_g.latent_avg.lerp_(ws[:, 0].mean(0), 0.005)
        metrics.update(
            d_loss=float(d_loss.detach()),
            g_loss=float(g_loss.detach()),
            d_real=float(d_real.detach().mean()),
            d_fake=float(d_fake.detach().mean()),
            diversity=_diversity(fake, real),
        )
        return metrics

    def export_config(self, nets, cfg):
        g = nets.get("g_ema", nets["g"])
        g.compute_latent_avg()
        out = super().export_config(nets, cfg)
        out["arch"] = nets["g"].hyperparameters()
        return out


TASKS = {"gan": MLPGANTask, "dcgan": DCGANTask, "biggan": BigGANTask, "stylegan2": StyleGAN2Task}


def task_for(name: str) -> TrainTask:
    if name not in TASKS:
        raise UsageError(f"model '{name}' has no training task (trainable: {', '.join(TASKS)})")
    return TASKS[name]()
