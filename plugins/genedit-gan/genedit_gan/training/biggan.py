"""``biggan``: Brock et al. (2018). Hinge loss, orthogonal regularisation of G, EMA of G, and
class-conditional on the data's labels (projection discriminator), so its step is its own."""

from __future__ import annotations

import math

import torch

from genedit_core.sdk import Field, UsageError

from ..losses import d_hinge, g_hinge, orthogonal_reg
from .common import N_SAMPLES, GANTask, diversity


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
        from .._arch.biggan import BigGAN, ProjectionDiscriminator

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
            "diversity": diversity(fake, real),
        }

    def export_config(self, nets, cfg):
        out = super().export_config(nets, cfg)
        out["arch"] = nets["g"].hyperparameters()
        return out


TASK = BigGANTask
