"""Only the GAN plugin is registered in these tests, so they never depend on other plugins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from genedit_gan.tiny import TINY  # the tiny configs the conformance check uses too
from safetensors.torch import save_file

from genedit_core.testing import plugins_installed


@pytest.fixture
def gan_plugins():
    import genedit_gan.plugin as gan_plugin

    with plugins_installed(gan=gan_plugin) as p:
        yield p


def write_run(folder: Path, module: torch.nn.Module, config: dict) -> Path:
    """A folder laid out like a trainer run: model.safetensors + config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def tiny_module(name: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    hp = TINY[name]
    if name == "dcgan":
        from genedit_gan._arch.dcgan import DCGANGenerator

        m = DCGANGenerator(**hp)
    elif name == "gan":
        from genedit_gan._arch.mlp import MLPGenerator

        m = MLPGenerator(**hp)
    elif name == "stylegan2":
        from genedit_gan._arch.stylegan2 import StyleGAN2Generator

        m = StyleGAN2Generator(**hp)
        with torch.no_grad():
            for mod in m.modules():  # non-zero noise strengths so that noise handling is exercised
                if type(mod).__name__ == "NoiseInjection":
                    mod.weight.fill_(0.1)
        m.compute_latent_avg(256)
    else:
        from genedit_gan._arch.biggan import BigGAN

        m = BigGAN(**hp)
        # make running stats non-trivial
        for mod in m.modules():
            if hasattr(mod, "running_vars"):
                mod.running_means.normal_(0, 0.1)
                mod.running_vars.uniform_(0.5, 1.5)
    return m.eval()


@pytest.fixture
def tiny_run(tmp_path):
    """``tiny_run(name)`` → (run folder, module) with trainer-style config."""

    def make(name: str, extra: dict | None = None):
        m = tiny_module(name)
        arch = m.hyperparameters() if hasattr(m, "hyperparameters") else {"nc": m.nc, "size": m.size}
        cfg = {"genedit_task": name, "model": name, "arch": arch, **(extra or {})}
        return write_run(tmp_path / f"run-{name}", m, cfg), m

    return make
