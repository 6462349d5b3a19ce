"""``gan``: the fully connected GAN of Goodfellow et al. (2014) on small grey images, trained with the
shared non-saturating BCE step (:class:`~.common.BCEStepMixin`)."""

from __future__ import annotations

from .common import BCEStepMixin, GANTask


class MLPGANTask(BCEStepMixin, GANTask):
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
        from .._arch.mlp import MLPDiscriminator, MLPGenerator

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


TASK = MLPGANTask
