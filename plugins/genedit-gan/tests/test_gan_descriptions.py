"""What a loaded generator tells the core: a latent apart from image channels, the core's dtype,
and mismatched weights reported by the core's one strict loader."""

from __future__ import annotations

import pytest
import torch
from genedit_gan.sampling import generate_images

import genedit_core
import genedit_core.device as device_mod
from genedit_core.errors import WeightsError

LATENT = {"gan": 8, "dcgan": 8, "biggan": 9, "stylegan2": 8}


@pytest.mark.parametrize("name", sorted(LATENT))
def test_generators_take_a_latent_not_image_channels(gan_plugins, tiny_run, name):
    run, _ = tiny_run(name)
    model = genedit_core.load(name, weights=str(run), device="cpu", dtype="fp32")
    assert model.in_channels == 0 and model.latent_shape == (LATENT[name],) and model.takes_latent
    with torch.no_grad():
        images = model(torch.randn(2, LATENT[name], generator=torch.Generator().manual_seed(0)))
    assert images.shape[0] == 2 and images.ndim == 4


def test_generators_run_in_the_dtype_the_core_chose(gan_plugins, tiny_run, monkeypatch):
    """The plugin used to force fp32 on a CPU whatever --dtype said."""
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    run, _ = tiny_run("dcgan")
    model = genedit_core.load("dcgan", weights=str(run), device="cpu", dtype="bf16")
    assert model.dtype == torch.bfloat16
    assert {p.dtype for p in model.module.parameters()} == {torch.bfloat16}
    reference = genedit_core.load("dcgan", weights=str(run), device="cpu", dtype="fp32")
    low, full = generate_images(model, [3, 4], {}), generate_images(reference, [3, 4], {})
    assert low.dtype == torch.float32 and (low - full).abs().max().item() < 0.05


def test_mismatched_weights_list_every_kind_of_mismatch(gan_plugins, tiny_run, tmp_path):
    _, module = tiny_run("dcgan")
    state = dict(module.state_dict())
    state["main.0.weight"] = state["main.0.weight"][:, :3].clone()
    state["main.99.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError) as info:
        genedit_core.load("dcgan", weights=str(tmp_path / "bad.pth"), device="cpu", dtype="fp32")
    msg = str(info.value)
    assert "bad.pth" in msg and "DCGANGenerator" in msg and "\n" not in msg
    assert "unexpected 1 key: main.99.weight" in msg
