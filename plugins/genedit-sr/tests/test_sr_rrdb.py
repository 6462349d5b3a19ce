"""RRDBNet checkpoints in the three published layouts (old ESRGAN, ESRGAN, BasicSR / Real-ESRGAN).

Each case writes random weights under one layout's key names and compares genedit's output with a
reference forward written here from the published design, using plain ops on the raw state dict.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import genedit_core
from genedit_core.errors import WeightsError
from genedit_core.tiling import run_model

NF, NB, GC = 8, 2, 4


def names_for(layout: str, n_up: int, nb: int) -> dict:
    """Key prefixes of each conv in ``layout``; ``rdb`` takes block i, dense block k, conv j."""
    if layout == "basicsr":
        return {
            "first": "conv_first",
            "rdb": "body.{i}.rdb{k}.conv{j}",
            "trunk": "conv_body",
            "ups": [f"conv_up{k}" for k in range(1, n_up + 1)],
            "hr": "conv_hr",
            "last": "conv_last",
        }
    if layout == "esrgan":
        return {
            "first": "conv_first",
            "rdb": "RRDB_trunk.{i}.RDB{k}.conv{j}",
            "trunk": "trunk_conv",
            "ups": [f"upconv{k}" for k in range(1, n_up + 1)],
            "hr": "HRconv",
            "last": "conv_last",
        }
    # old ESRGAN Sequential: 0 conv, 1 shortcut(trunk), then [upsample, conv, lrelu] × n, HR, lrelu, last
    return {
        "first": "model.0",
        "rdb": "model.1.sub.{i}.RDB{k}.conv{j}.0",
        "trunk": f"model.1.sub.{nb}",
        "ups": [f"model.{3 * k}" for k in range(1, n_up + 1)],
        "hr": f"model.{3 * n_up + 2}",
        "last": f"model.{3 * n_up + 4}",
    }


def make_state(names: dict, in_ch: int, nb: int = NB, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def conv(name: str, o: int, i: int) -> None:
        sd[f"{name}.weight"] = torch.randn(o, i, 3, 3, generator=g) * (0.8 / math.sqrt(9 * i))
        sd[f"{name}.bias"] = torch.randn(o, generator=g) * 0.05

    conv(names["first"], NF, in_ch)
    for i in range(nb):
        for k in (1, 2, 3):
            for j in range(1, 6):
                conv(names["rdb"].format(i=i, k=k, j=j), NF if j == 5 else GC, NF + (j - 1) * GC)
    conv(names["trunk"], NF, NF)
    for up in names["ups"]:
        conv(up, NF, NF)
    conv(names["hr"], NF, NF)
    conv(names["last"], 3, NF)
    return sd


def _unshuffle(x: torch.Tensor, s: int) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.view(b, c, h // s, s, w // s, s).permute(0, 1, 3, 5, 2, 4).reshape(b, c * s * s, h // s, w // s)


def reference(sd: dict, names: dict, x: torch.Tensor, nb: int = NB) -> torch.Tensor:
    def c(t: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv2d(t, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)

    def lrelu(t: torch.Tensor) -> torch.Tensor:
        return torch.where(t >= 0, t, 0.2 * t)

    in_ch = sd[f"{names['first']}.weight"].shape[1]
    s = {3: 1, 12: 2, 48: 4}[in_ch]
    if s > 1:
        x = _unshuffle(x, s)
    feat = c(x, names["first"])
    t = feat
    for i in range(nb):
        block_in = t
        for k in (1, 2, 3):
            dense = [t]
            for j in range(1, 5):
                dense.append(lrelu(c(torch.cat(dense, 1), names["rdb"].format(i=i, k=k, j=j))))
            t = t + 0.2 * c(torch.cat(dense, 1), names["rdb"].format(i=i, k=k, j=5))
        t = block_in + 0.2 * t
    feat = feat + c(t, names["trunk"])
    for up in names["ups"]:
        feat = lrelu(c(feat.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3), up))
    return c(lrelu(c(feat, names["hr"])), names["last"])


CASES = [
    # layout, upconvs, conv_first channels, file wrapper, suffix, expected scale
    ("basicsr", 2, 3, None, ".pth", 4),
    ("basicsr", 2, 12, "params_ema", ".pth", 2),
    ("basicsr", 2, 48, "params", ".pth", 1),
    ("basicsr", 3, 3, None, ".pth", 8),
    ("esrgan", 2, 3, None, ".pth", 4),
    ("esrgan-old", 2, 3, None, ".pth", 4),
    ("esrgan-old", 1, 3, None, ".pt", 2),
]


@pytest.mark.parametrize(("layout", "n_up", "in_ch", "wrapper", "suffix", "scale"), CASES)
def test_layout_matches_reference(tmp_path, layout, n_up, in_ch, wrapper, suffix, scale):
    names = names_for(layout, n_up, NB)
    sd = make_state(names, in_ch)
    path = tmp_path / f"rrdb_{layout}{suffix}"
    torch.save({wrapper: sd} if wrapper else sd, path)
    model = genedit_core.load("realesrgan", weights=str(path), device="cpu", dtype="fp32")
    hp = model.hyperparameters
    assert model.scale == scale
    assert (hp["num_feat"], hp["num_block"], hp["num_grow_ch"], hp["scale"]) == (NF, NB, GC, scale)
    assert (
        hp["layout"]
        == {"basicsr": "rrdb-basicsr", "esrgan": "rrdb-esrgan", "esrgan-old": "rrdb-esrgan-old"}[layout]
    )
    assert model.size_multiple == {3: 1, 12: 2, 48: 4}[in_ch]
    x = torch.rand(1, 3, 8, 12, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        y = model(x)
    expected = reference(sd, names, x)
    assert y.shape == expected.shape == (1, 3, 8 * scale, 12 * scale)
    assert (y - expected).abs().max() < 1e-5
    assert expected.std() > 1e-3  # the comparison is not between two near-constant images


def test_x2_pads_odd_sizes_to_its_multiple(tmp_path):
    sd = make_state(names_for("basicsr", 2, NB), 12)
    path = tmp_path / "RealESRGAN_x2.pth"
    torch.save(sd, path)
    model = genedit_core.load("realesrgan", weights=str(path), scale=2, device="cpu", dtype="fp32")
    y = run_model(model, torch.rand(1, 3, 9, 11))
    assert y.shape == (1, 3, 18, 22)


def test_explicit_scale_checked_against_weights(tmp_path):
    path = tmp_path / "RealESRGAN_x4.pth"
    torch.save(make_state(names_for("basicsr", 2, NB), 3), path)
    with pytest.raises(genedit_core.GeneditError, match=r"RealESRGAN_x4\.pth.*x4.*x8"):
        genedit_core.load("realesrgan", weights=str(path), scale=8, device="cpu", dtype="fp32")


def test_non_rgb_conv_first_is_refused(tmp_path):
    sd = make_state(names_for("basicsr", 2, NB), 3)
    sd["conv_first.weight"] = torch.zeros(NF, 4, 3, 3)
    path = tmp_path / "rgba.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"rgba\.pth.*conv_first\.weight.*4 channels"):
        genedit_core.load("realesrgan", weights=str(path), device="cpu", dtype="fp32")


def test_old_esrgan_missing_trunk_block_is_listed(tmp_path):
    names = names_for("esrgan-old", 2, NB)
    sd = make_state(names, 3)
    for key in [k for k in sd if k.startswith("model.1.sub.0.RDB2.")]:
        del sd[key]
    path = tmp_path / "esrgan_old.pth"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"esrgan_old\.pth.*missing 10 keys.*body\.0\.rdb2\.conv1"):
        genedit_core.load("realesrgan", weights=str(path), device="cpu", dtype="fp32")


def test_full_size_x4_parameter_count():
    """Real-ESRGAN x4 (64 features, 23 blocks, growth 32) has 16.7M parameters."""
    from genedit_sr.layouts import make_module

    module = make_module("rrdb", {"scale": 4})
    assert round(sum(p.numel() for p in module.parameters()) / 1e6, 1) == 16.7
