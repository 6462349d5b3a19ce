"""``stylegan2``: Karras et al. (2019). Non-saturating logistic loss with lazy R1 (D) and path-length
(G) regularisation, style mixing and EMA of G; the running path-length mean is a buffer of
:class:`PLState`, a third network, so checkpoints and resume carry it."""

from __future__ import annotations

import torch
from torch import nn

from ..losses import d_logistic, g_logistic, path_length_penalty, r1_penalty
from .common import GANTask, diversity


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
        from .._arch.stylegan2 import StyleGAN2Discriminator, StyleGAN2Generator, channel_list

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
            diversity=diversity(fake, real),
        )
        return metrics

    def export_config(self, nets, cfg):
        g = nets.get("g_ema", nets["g"])
        g.compute_latent_avg()
        out = super().export_config(nets, cfg)
        out["arch"] = nets["g"].hyperparameters()
        return out


TASK = StyleGAN2Task
