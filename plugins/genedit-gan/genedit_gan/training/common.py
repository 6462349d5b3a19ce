"""What every GAN family's training shares, written once: the :class:`GANTask` base (data,
fixed-noise samples, exported config, collapse warnings, DiffAugment, Adam), the non-saturating
BCE step of the GAN and DCGAN papers (:class:`BCEStepMixin`), and the :func:`diversity` metric.

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
from torch import nn

from genedit_core.sdk import Field, TrainTask

from ..losses import d_logistic, diff_augment, g_logistic, parse_diffaug
from .data import ResizedImages

SAMPLE_SEED = 1234
N_SAMPLES = 64
DIGIT_NAMES = [str(i) for i in range(10)]


def diversity(fake: torch.Tensor, real: torch.Tensor) -> float:
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


class BCEStepMixin:
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
            "diversity": diversity(fake, real),
        }
