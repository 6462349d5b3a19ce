"""What the SR networks tell the core: a receptive field the tiler's default overlap covers (so
tiles are seamless), the activation memory ``tile="auto"`` sizes tiles by, and the core's dtype."""

from __future__ import annotations

import pytest
import torch
from genedit_sr.layouts import ARCHITECTURES, make_module
from safetensors.torch import save_file

import genedit_core
import genedit_core.device as device_mod
from genedit_core.api import GeneditWarning
from genedit_core.tiling import default_overlap, run_model, run_tiled

TINY = {
    "edsr": {"num_feat": 8, "num_block": 6, "scale": 2},
    "rrdb": {"num_feat": 8, "num_block": 1, "num_grow_ch": 4, "scale": 2},
    "espcn": {"scale": 2},
    "srcnn": {"scale": 2, "channels": 1},
    "vdsr": {"scale": 2, "channels": 3, "num_feat": 8, "num_layers": 4},
}
CARD = {"edsr": "edsr", "rrdb": "realesrgan"}


def _saved(tmp_path, arch: str) -> str:
    torch.manual_seed(11)
    module = make_module(arch, TINY[arch])
    path = tmp_path / f"{arch}.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return str(path)


@pytest.mark.parametrize("arch", ["edsr", "rrdb"])
def test_tiles_are_seamless_at_the_default_overlap_and_not_below_it(tmp_path, arch):
    """EDSR reaches 16 input pixels; RRDB x2 unshuffles by 2 and reaches 37 (overlap 38 on its grid)."""
    model = genedit_core.load(CARD[arch], weights=_saved(tmp_path, arch), scale=2, device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 72, 64, generator=torch.Generator().manual_seed(3))
    whole = run_model(model, x)
    overlap = default_overlap(model)
    assert overlap == {"edsr": 16, "rrdb": 38}[arch] and overlap >= model.receptive_field

    tiled = run_tiled(model, x, tile=32)

    assert tiled.shape == whole.shape == (1, 3, 144, 128)
    assert (tiled - whole).abs().max().item() <= 1e-5
    short = 2
    with pytest.warns(
        GeneditWarning, match=rf"tile overlap {short} is below .* \({model.receptive_field} pixels\)"
    ):
        seams = run_tiled(model, x, tile=32, overlap=short)
    assert (seams - whole).abs().max().item() > 1e-3


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
def test_every_network_states_its_activation_memory(arch):
    small = make_module(arch, TINY[arch])
    wide = make_module(arch, {**TINY[arch], "num_feat": 64, "features": (64, 32)})
    bigger = make_module(arch, {**TINY[arch], "scale": 4 if arch != "srcnn" else 3})
    assert small.activation_bytes_per_pixel > 0
    assert small.activation_bytes_per_pixel <= wide.activation_bytes_per_pixel
    assert small.activation_bytes_per_pixel < bigger.activation_bytes_per_pixel


def test_loaded_models_carry_the_networks_description(tmp_path):
    edsr = genedit_core.load("edsr", weights=_saved(tmp_path, "edsr"), device="cpu", dtype="fp32")
    assert edsr.activation_bytes_per_pixel == edsr.module.activation_bytes_per_pixel
    assert edsr.receptive_field == edsr.module.receptive_field == 16
    bicubic = genedit_core.load("bicubic", scale=3, device="cpu")
    assert bicubic.activation_bytes_per_pixel == 4.0 * 6 * 9


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
def test_resamplers_run_in_the_dtype_the_core_chose(monkeypatch, name):
    """They used to force fp32 on a CPU whatever --dtype said."""
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    model = genedit_core.load(name, scale=2, device="cpu", dtype="bf16")
    assert model.dtype == torch.bfloat16
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    y = run_model(model, x)
    reference = run_model(genedit_core.load(name, scale=2, device="cpu", dtype="fp32"), x)
    assert y.shape == (1, 3, 16, 16) and (y - reference).abs().max().item() < 0.02
