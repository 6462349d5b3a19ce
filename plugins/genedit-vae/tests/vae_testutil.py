"""Only the VAE plugin is registered in these tests; tiny random-init runs stand in for weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from genedit_vae.tiny import TINY  # the tiny configs the conformance check uses too
from safetensors.torch import save_file

from genedit_core.testing import plugins_installed


@pytest.fixture
def vae_plugins():
    import genedit_vae.plugin as vae_plugin

    with plugins_installed(vae=vae_plugin) as p:
        yield p


def tiny_module(kind: str, seed: int = 0, **overrides):
    from genedit_vae._arch import ConvVAE, VAEConfig

    torch.manual_seed(seed)
    return ConvVAE(VAEConfig.from_dict({**TINY[kind], **overrides})).eval()


def write_run(folder: Path, module: torch.nn.Module, sketch_method: str = "xdog") -> Path:
    """A folder laid out like a trainer run: model.safetensors + config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(folder / "model.safetensors"))
    cfg = {"genedit_task": "vae", "arch": module.config.to_dict(), "sketch_method": sketch_method}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder


def lively(model: torch.nn.Module) -> torch.nn.Module:
    """Scale a random-init model so its outputs visibly depend on z (init keeps them near 0.5)."""
    with torch.no_grad():
        model.mu.weight.mul_(30)
        for p in model.dec_fc.parameters():
            p.mul_(5)
    return model
