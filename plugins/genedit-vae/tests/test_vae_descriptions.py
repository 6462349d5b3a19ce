"""What a loaded VAE tells the core: its latent apart from the image channels it takes, and the
dtype the core chose."""

from __future__ import annotations

import torch
from vae_testutil import tiny_module, write_run

import genedit_core
import genedit_core.device as device_mod


def test_a_vae_has_a_latent_but_takes_images(tmp_path, vae_plugins):
    run = write_run(tmp_path / "run", tiny_module("beta-vae"))
    model = genedit_core.load("beta-vae", weights=str(run), device="cpu", dtype="fp32")
    assert model.latent_shape == (4,) and model.in_channels == 3 and not model.takes_latent
    with torch.no_grad():
        assert model(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_a_vae_runs_in_the_dtype_the_core_chose(tmp_path, vae_plugins, monkeypatch):
    """The plugin used to force fp32 on a CPU whatever --dtype said."""
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    run = write_run(tmp_path / "run", tiny_module("beta-vae"))
    model = genedit_core.load("beta-vae", weights=str(run), device="cpu", dtype="bf16")
    assert model.dtype == torch.bfloat16
    assert {p.dtype for p in model.module.parameters()} == {torch.bfloat16}
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    reference = genedit_core.load("beta-vae", weights=str(run), device="cpu", dtype="fp32")
    with torch.no_grad():
        assert (model(x).float() - reference(x)).abs().max().item() < 0.05
