"""EDSR checkpoints in the three published layouts, checked against a reference forward.

The reference below is written from the published layouts (key names, value range, mean shift) with
plain ``torch.nn.functional`` ops on the raw state dict; it shares no code with genedit_sr.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import genedit_core
from genedit_core.errors import UsageError, WeightsError
from genedit_core.requests import LoadRequest
from genedit_core.tiling import default_overlap, run_model, run_tiled
from genedit_core.weights import ResolvedWeights

DIV2K = torch.tensor([0.4488, 0.4371, 0.4040])
NF, NB = 8, 2


def _conv_w(out_ch: int, in_ch: int, k: int = 3, gen: torch.Generator | None = None) -> torch.Tensor:
    return torch.randn(out_ch, in_ch, k, k, generator=gen) * (0.6 / math.sqrt(in_ch * k * k))


def official_state(scale: int, nf: int = NF, nb: int = NB, mean_keys: bool = True, seed: int = 0) -> dict:
    """Random weights under EDSR-PyTorch names (head / body.i.body.{0,2} / body.B / tail)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, torch.Tensor] = {}

    def conv(name: str, o: int, i: int) -> None:
        sd[f"{name}.weight"] = _conv_w(o, i, gen=g)
        sd[f"{name}.bias"] = torch.randn(o, generator=g) * 0.05

    if mean_keys:
        sd["sub_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
        sd["sub_mean.bias"] = -255.0 * DIV2K
    conv("head.0", nf, 3)
    for i in range(nb):
        conv(f"body.{i}.body.0", nf, nf)
        conv(f"body.{i}.body.2", nf, nf)
    conv(f"body.{nb}", nf, nf)
    stages = [3] if scale == 3 else [2] * int(math.log2(scale))
    for k, f in enumerate(stages):
        conv(f"tail.0.{2 * k}", nf * f * f, nf)
    conv("tail.1", 3, nf)
    if mean_keys:
        sd["add_mean.weight"] = torch.eye(3).view(3, 3, 1, 1)
        sd["add_mean.bias"] = 255.0 * DIV2K
    return sd


def _c(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd[f"{name}.bias"], padding=w.shape[-1] // 2)


def _trunk(x: torch.Tensor, sd: dict, names: dict, res_scale: float) -> torch.Tensor:
    """head → residual blocks → conv → global skip → sub-pixel stages → last conv."""
    head = _c(x, sd, names["head"])
    r = head
    i = 0
    while f"{names['block'].format(i=i, j=1)}.weight" in sd:
        t = _c(F.relu(_c(r, sd, names["block"].format(i=i, j=1))), sd, names["block"].format(i=i, j=2))
        r = r + res_scale * t
        i += 1
    r = _c(r, sd, names["after"].format(n=i)) + head
    k = 0
    while f"{names['up'].format(k=k)}.weight" in sd:
        y = _c(r, sd, names["up"].format(k=k))
        r = F.pixel_shuffle(y, math.isqrt(y.shape[1] // head.shape[1]))
        k += 2
    return _c(r, sd, names["last"])


def ref_official(sd: dict, x01: torch.Tensor, res_scale: float = 1.0) -> torch.Tensor:
    """EDSR-PyTorch semantics: 0–255 input, sub_mean conv, network, add_mean conv, back to 0–1."""
    renamed = _official_to_numbered(sd)
    x = x01 * 255.0
    if "sub_mean.weight" in sd:
        x = F.conv2d(x, sd["sub_mean.weight"], sd["sub_mean.bias"])
    else:
        x = x - 255.0 * DIV2K.view(1, 3, 1, 1)
    y = _trunk(x, renamed, NUMBERED, res_scale)
    if "add_mean.weight" in sd:
        y = F.conv2d(y, sd["add_mean.weight"], sd["add_mean.bias"])
    else:
        y = y + 255.0 * DIV2K.view(1, 3, 1, 1)
    return y / 255.0


def ref_no_mean_shift(sd: dict, x01: torch.Tensor, res_scale: float = 1.0) -> torch.Tensor:
    """super-image semantics: the same network on 0–1 input, no mean shift, 0–1 output."""
    return _trunk(x01, _official_to_numbered(sd), NUMBERED, res_scale)


# The official block convs sit at Sequential indices 0 and 2; the trunk helper counts j = 1, 2.
NUMBERED = {
    "head": "head.0",
    "block": "body.{i}.c{j}",
    "after": "body.{n}",
    "up": "tail.0.{k}",
    "last": "tail.1",
}


def _official_to_numbered(sd: dict) -> dict:
    out = dict(sd)
    for key in list(sd):
        parts = key.split(".")
        if len(parts) == 5 and parts[0] == "body" and parts[2] == "body":
            out[f"body.{parts[1]}.c{1 if parts[3] == '0' else 2}.{parts[4]}"] = sd[key]
    return out


def basicsr_state(scale: int, seed: int = 1) -> dict:
    """Random weights under BasicSR names (conv_first / body.i.conv1,2 / conv_after_body / upsample / conv_last)."""
    sd = official_state(scale, mean_keys=False, seed=seed)
    out: dict[str, torch.Tensor] = {}
    for key, v in sd.items():
        p = key.split(".")
        if p[0] == "head":
            out[f"conv_first.{p[-1]}"] = v
        elif p[0] == "body" and len(p) == 5:
            out[f"body.{p[1]}.conv{1 if p[3] == '0' else 2}.{p[-1]}"] = v
        elif p[0] == "body":
            out[f"conv_after_body.{p[-1]}"] = v
        elif p[0] == "tail" and p[1] == "0":
            out[f"upsample.{p[2]}.{p[-1]}"] = v
        else:
            out[f"conv_last.{p[-1]}"] = v
    return out


BASICSR = {
    "head": "conv_first",
    "block": "body.{i}.conv{j}",
    "after": "conv_after_body",
    "up": "upsample.{k}",
    "last": "conv_last",
}


def ref_basicsr(sd: dict, x01: torch.Tensor, res_scale: float = 1.0) -> torch.Tensor:
    """BasicSR semantics: x = (x - mean) * 255 … out / 255 + mean, mean held outside the weights."""
    mean = DIV2K.view(1, 3, 1, 1)
    return _trunk((x01 - mean) * 255.0, sd, BASICSR, res_scale) / 255.0 + mean


def _load(path: Path, scale: int | None = None, name: str = "edsr"):
    return genedit_core.load(name, weights=str(path), scale=scale, device="cpu", dtype="fp32")


def _x(h: int = 12, w: int = 10, seed: int = 5) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < tol, (a - b).abs().max().item()


# ---------------------------------------------------------------------------------------------- loading


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_official_pt_matches_reference_and_infers_sizes(tmp_path, scale):
    sd = official_state(scale)
    path = tmp_path / f"edsr_x{scale}.pt"
    torch.save(sd, path)
    model = _load(path)
    assert model.scale == scale
    hp = model.hyperparameters
    assert (hp["layout"], hp["num_feat"], hp["num_block"], hp["scale"], hp["res_scale"]) == (
        "edsr-official",
        NF,
        NB,
        scale,
        1.0,
    )
    x = _x()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 12 * scale, 10 * scale)
    _close(y, ref_official(sd, x))


def test_official_names_without_config_json_use_official_semantics(tmp_path):
    """No sub_mean/add_mean in the file and no config.json: still 0–255 with the DIV2K mean shift."""
    sd = official_state(2, mean_keys=False)
    path = tmp_path / "edsr.pt"
    torch.save(sd, path)
    x = _x()
    with torch.no_grad():
        y = _load(path)(x)
    expected = ref_official(sd, x)
    _close(y, expected)
    assert (expected - ref_no_mean_shift(sd, x)).abs().max() > 0.01  # the rule changes the output


def test_super_image_config_json_and_module_prefix(tmp_path):
    """super-image files: official names behind ``module.``, config.json beside; 0–1, no mean shift."""
    sd = official_state(2)
    path = tmp_path / "pytorch_model_2x.pt"
    torch.save({f"module.{k}": v for k, v in sd.items()}, path)
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "EDSR", "n_feats": NF, "n_resblocks": NB, "res_scale": 1, "rgb_range": 255})
    )
    model = _load(path, scale=2)
    x = _x()
    with torch.no_grad():
        y = model(x)
    _close(y, ref_no_mean_shift(sd, x))
    assert (y - ref_official(sd, x)).abs().max() > 0.01


def test_res_scale_from_config_json(tmp_path):
    sd = official_state(2)
    path = tmp_path / "edsr.pt"
    torch.save(sd, path)
    (tmp_path / "config.json").write_text(json.dumps({"res_scale": 0.5}))
    model = _load(path)
    assert model.hyperparameters["res_scale"] == 0.5
    x = _x()
    with torch.no_grad():
        _close(model(x), ref_official(sd, x, res_scale=0.5))


def test_card_variant_config_without_mean_shift():
    """The super-image card variant says mean_shift False / input_range 1 even if sub_mean is in the file."""
    from genedit_sr.build import build_network

    sd = official_state(3)
    card = genedit_core.get_card("edsr-baseline")
    config = {
        "layout": "edsr-official",
        "rgb_range": 255,
        "mean_shift": False,
        "input_range": 1.0,
        "res_scale": 1.0,
    }
    weights = ResolvedWeights(
        Path("pytorch_model_3x.pt"), "hf://eugenesiow/edsr-base/pytorch_model_3x.pt", "0", None, config
    )
    model = build_network(LoadRequest(card, weights, sd, 3, torch.device("cpu"), torch.float32))
    x = _x()
    with torch.no_grad():
        _close(model(x), ref_no_mean_shift(sd, x))


@pytest.mark.parametrize("scale", [2, 4])
def test_basicsr_params_ema_matches_reference(tmp_path, scale):
    ema, raw = basicsr_state(scale, seed=1), basicsr_state(scale, seed=2)
    path = tmp_path / "EDSR_Mx.pth"
    torch.save({"params": raw, "params_ema": ema}, path)
    model = _load(path, scale=scale)
    assert model.hyperparameters["layout"] == "edsr-basicsr"
    assert (model.hyperparameters["num_feat"], model.hyperparameters["num_block"]) == (NF, NB)
    x = _x()
    with torch.no_grad():
        y = model(x)
    _close(y, ref_basicsr(ema, x))
    assert (y - ref_basicsr(raw, x)).abs().max() > 1e-3


def test_basicsr_params_wrapper(tmp_path):
    sd = basicsr_state(2)
    path = tmp_path / "edsr.pth"
    torch.save({"params": sd}, path)
    x = _x()
    with torch.no_grad():
        _close(_load(path)(x), ref_basicsr(sd, x))


def test_default_res_scale_depends_on_width():
    from genedit_sr.layouts import LAYOUTS

    convert = LAYOUTS.get("edsr-official").convert
    for nf, expected in ((64, 1.0), (256, 0.1)):
        sd = {}
        for k, v in official_state(2, nf=NF, nb=1, mean_keys=False).items():
            shape = [nf * s // NF if s % NF == 0 and s >= NF else s for s in v.shape]
            sd[k] = torch.zeros(shape)
        _, hp = convert(sd, {})
        assert (hp["num_feat"], hp["num_block"], hp["res_scale"]) == (nf, 1, expected)


# ---------------------------------------------------------------------------------------------- errors


def test_scale_mismatch_is_a_clear_error(tmp_path):
    path = tmp_path / "edsr_x2.pt"
    torch.save(official_state(2), path)
    with pytest.raises(UsageError, match=r"edsr_x2\.pt.*x2.*x3"):
        _load(path, scale=3)


def test_unknown_layout_names_the_file_and_keys(tmp_path):
    path = tmp_path / "mystery.pt"
    torch.save({"encoder.proj.weight": torch.zeros(4, 3, 3, 3), "encoder.proj.bias": torch.zeros(4)}, path)
    with pytest.raises(WeightsError) as info:
        _load(path)
    msg = str(info.value)
    assert "mystery.pt" in msg and "encoder.proj.weight" in msg and "edsr-official" in msg
    assert "\n" not in msg


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    sd = official_state(2)
    del sd["body.1.body.2.weight"]
    sd["extra_head.weight"] = torch.zeros(3)
    path = tmp_path / "broken.pt"
    torch.save(sd, path)
    with pytest.raises(WeightsError) as info:
        _load(path)
    msg = str(info.value)
    assert "broken.pt" in msg and "body.1.conv2.weight" in msg and "extra_head.weight" in msg


def test_shape_disagreement_is_a_weights_error(tmp_path):
    sd = official_state(2)
    sd["body.0.body.0.weight"] = torch.zeros(NF, NF, 5, 5)
    path = tmp_path / "odd.pt"
    torch.save(sd, path)
    with pytest.raises(WeightsError, match=r"odd\.pt.*body\.0\.conv1\.weight"):
        _load(path)


def test_rrdb_weights_for_edsr_point_to_realesrgan(tmp_path):
    from genedit_sr.layouts import make_module

    path = tmp_path / "RealESRGAN_x4.pth"
    torch.save(
        make_module("rrdb", {"num_feat": 4, "num_block": 1, "num_grow_ch": 2, "scale": 4}).state_dict(), path
    )
    with pytest.raises(WeightsError, match=r"RealESRGAN_x4\.pth.*rrdb-basicsr.*--model realesrgan"):
        _load(path)


# ---------------------------------------------------------------------------------------------- running


def test_bf16_channels_last_runs_close_to_fp32():
    from genedit_sr.build import build_network

    sd = official_state(2)
    card = genedit_core.get_card("edsr")
    assert card.channels_last
    weights = ResolvedWeights(Path("e.pt"), "e.pt", "0", None, {})
    fp32 = build_network(LoadRequest(card, weights, sd, 2, torch.device("cpu"), torch.float32))
    bf16 = build_network(LoadRequest(card, weights, sd, 2, torch.device("cpu"), torch.bfloat16))
    assert next(bf16.module.parameters()).dtype == torch.bfloat16
    assert bf16.module.conv_first.weight.is_contiguous(memory_format=torch.channels_last)
    x = _x(16, 16)
    y32 = run_model(fp32, x)
    y16 = run_model(bf16, x)
    assert y16.dtype == torch.float32 and y16.shape == (1, 3, 32, 32)
    assert (y16 - y32).abs().max() < 0.05
    assert (y16 - y32).abs().mean() < 0.01


@pytest.mark.parametrize(("scale", "millions"), [(2, 1.37), (3, 1.55), (4, 1.52)])
def test_edsr_baseline_parameter_counts(scale, millions):
    from genedit_sr.layouts import make_module

    module = make_module("edsr", {"num_feat": 64, "num_block": 16, "scale": scale, "res_scale": 1.0})
    assert round(sum(p.numel() for p in module.parameters()) / 1e6, 2) == millions


def test_tiled_equals_untiled(tmp_path):
    path = tmp_path / "edsr.pt"
    torch.save(official_state(2, nb=3), path)
    model = _load(path)
    x = _x(80, 72, seed=9)
    whole = run_model(model, x)
    tiled = run_tiled(model, x, tile=32)
    assert tiled.shape == whole.shape == (1, 3, 160, 144)
    assert (tiled - whole).abs().max() <= 1 / 255
    assert default_overlap(model) == model.receptive_field == 10  # run_tiled's default: seamless


def test_rgb_range_read_from_sub_mean_when_no_config(tmp_path):
    """An EDSR-PyTorch file trained with --rgb_range 1 carries sub_mean bias -mean, not -255·mean."""
    sd = official_state(2)
    sd["sub_mean.bias"], sd["add_mean.bias"] = -DIV2K, DIV2K.clone()
    path = tmp_path / "edsr_range1.pt"
    torch.save(sd, path)
    model = _load(path)
    x = _x()
    mean = DIV2K.view(1, 3, 1, 1)
    expected = _trunk(x - mean, _official_to_numbered(sd), NUMBERED, 1.0) + mean
    with torch.no_grad():
        _close(model(x), expected)
    assert "0-1 input" in model.hyperparameters["semantics"]
