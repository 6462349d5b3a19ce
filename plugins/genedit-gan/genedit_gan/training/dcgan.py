"""``dcgan``: Radford et al. (2015) with the pytorch/examples defaults (nz 100, 64 features, Adam 2e-4,
β1 0.5, N(0, 0.02) init), trained with the shared non-saturating BCE step
(:class:`~.common.BCEStepMixin`)."""

from __future__ import annotations

from .common import BCEStepMixin, GANTask


class DCGANTask(BCEStepMixin, GANTask):
    name = "dcgan"
    default_config = {
        "model": {"nz": 100, "ngf": 64, "ndf": 64, "nc": 3, "size": 64},
        "loss": {"real_label": 1.0},
        "ema": {"g": 0.0},
        "optim": {"g": {"lr": 2e-4, "betas": [0.5, 0.999]}, "d": {"lr": 2e-4, "betas": [0.5, 0.999]}},
        "train": {"batch_size": 64, "steps": 5000, "sample_every": 500, "ckpt_every": 1000, "log_every": 50},
    }

    def build_networks(self, cfg):
        from .._arch.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_init

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


TASK = DCGANTask
