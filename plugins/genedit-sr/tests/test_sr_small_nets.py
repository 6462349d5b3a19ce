"""SRCNN, ESPCN and VDSR through ``build_network`` with hand-made requests.

Their cards only exist once bundled weights are installed, so these tests make their own cards.
References are written here from the papers' designs with plain ops on the raw state dicts.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from genedit_core.cards import ModelCard
from genedit_core.errors import UsageError, WeightsError
from genedit_core.requests import LoadRequest
from genedit_core.weights import ResolvedWeights

# BT.601 on 0–255 values, as MATLAB's rgb2ycbcr: Y = (65.738 R + 129.057 G + 25.064 B) / 256 + 16
YCC = (
    torch.tensor([[65.738, 129.057, 25.064], [-37.945, -74.494, 112.439], [112.439, -94.154, -18.285]]) / 256
)
YCC_OFFSET = torch.tensor([16.0, 128.0, 128.0])


def to_ycc(rgb01: torch.Tensor) -> torch.Tensor:
    return (torch.einsum("ij,bjhw->bihw", YCC, rgb01 * 255) + YCC_OFFSET.view(1, 3, 1, 1)) / 255


def from_ycc(ycc01: torch.Tensor) -> torch.Tensor:
    inv = torch.linalg.inv(YCC.double()).float()
    return torch.einsum("ij,bjhw->bihw", inv, ycc01 * 255 - YCC_OFFSET.view(1, 3, 1, 1)) / 255


def request(name: str, state: dict, scale: int | None = None, config: dict | None = None) -> LoadRequest:
    card = ModelCard(name=name, tasks=("upscale",), family="super-resolution", summary="test", plugin="sr")
    weights = ResolvedWeights(
        Path(f"{name}_test.safetensors"), f"{name}_test.safetensors", "0", None, config or {}
    )
    return LoadRequest(card, weights, state, scale, torch.device("cpu"), torch.float32)


def build(req: LoadRequest):
    from genedit_sr.build import build_network

    return build_network(req)


def rand_conv(sd: dict, name: str, o: int, i: int, k: int, g: torch.Generator) -> None:
    sd[f"{name}.weight"] = torch.randn(o, i, k, k, generator=g) * (0.8 / math.sqrt(i * k * k))
    sd[f"{name}.bias"] = torch.randn(o, generator=g) * 0.05


def conv(x: torch.Tensor, sd: dict, name: str) -> torch.Tensor:
    w = sd[f"{name}.weight"]
    return F.conv2d(x, w, sd[f"{name}.bias"], padding=w.shape[-1] // 2)


def bicubic(x: torch.Tensor, s: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=s, mode="bicubic", align_corners=False).clamp(0, 1)


def image(h: int = 10, w: int = 14) -> torch.Tensor:
    return torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(11))


# ---------------------------------------------------------------------------------------------- colour


def test_ycbcr_matches_bt601_and_round_trips():
    from genedit_sr._arch.color import rgb_to_ycbcr, ycbcr_to_rgb

    x = image()
    _close(rgb_to_ycbcr(x), to_ycc(x))
    _close(ycbcr_to_rgb(rgb_to_ycbcr(x)), x)
    white_black = torch.tensor([1.0, 0.0]).view(1, 1, 2, 1).expand(1, 3, 2, 1)
    y = rgb_to_ycbcr(white_black)
    assert torch.allclose(y[0, 0, :, 0] * 255, torch.tensor([235.0, 16.0]), atol=0.01)
    assert torch.allclose(y[0, 1:] * 255, torch.full((2, 2, 1), 128.0), atol=0.01)


def _close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    assert (a - b).abs().max().item() < tol, (a - b).abs().max().item()


# ---------------------------------------------------------------------------------------------- SRCNN


def srcnn_state(channels: int = 1) -> dict:
    g = torch.Generator().manual_seed(0)
    sd: dict = {}
    rand_conv(sd, "conv1", 64, channels, 9, g)
    rand_conv(sd, "conv2", 32, 64, 5, g)
    rand_conv(sd, "conv3", channels, 32, 5, g)
    return sd


def ref_srcnn_y(sd: dict, x: torch.Tensor, s: int) -> torch.Tensor:
    ycc = to_ycc(bicubic(x, s))
    y = conv(F.relu(conv(F.relu(conv(ycc[:, :1], sd, "conv1")), sd, "conv2")), sd, "conv3")
    return from_ycc(torch.cat([y, ycc[:, 1:]], 1))


@pytest.mark.parametrize("scale", [2, 3])
def test_srcnn_955_on_y_matches_reference(scale):
    sd = srcnn_state()
    model = build(request("srcnn", sd, scale=scale))
    hp = model.hyperparameters
    assert (hp["layout"], hp["channels"], hp["features"], hp["kernels"]) == ("srcnn", 1, [64, 32], [9, 5, 5])
    x = image()
    with torch.no_grad():
        y = model(x)
    assert y.shape == (1, 3, 10 * scale, 14 * scale)
    expected = ref_srcnn_y(sd, x, scale)
    _close(y, expected)
    assert (expected - bicubic(x, scale)).abs().max() > 0.01  # the network changed something


def test_srcnn_scale_comes_from_request_or_config():
    sd = srcnn_state()
    with pytest.raises(UsageError, match=r"srcnn_test\.safetensors.*--scale"):
        build(request("srcnn", sd))
    assert build(request("srcnn", sd, config={"scale": 3})).scale == 3
    assert build(request("srcnn", sd, scale=4, config={"scale": 3})).scale == 4


def test_srcnn_rgb_variant():
    sd = srcnn_state(channels=3)
    model = build(request("srcnn", sd, scale=2))
    x = image()
    expected = conv(F.relu(conv(F.relu(conv(bicubic(x, 2), sd, "conv1")), sd, "conv2")), sd, "conv3")
    with torch.no_grad():
        _close(model(x), expected)


# ---------------------------------------------------------------------------------------------- ESPCN


def espcn_state(scale: int) -> dict:
    g = torch.Generator().manual_seed(1)
    sd: dict = {}
    rand_conv(sd, "conv1", 16, 3, 5, g)
    rand_conv(sd, "conv2", 8, 16, 3, g)
    rand_conv(sd, "conv3", 3 * scale * scale, 8, 3, g)
    return sd


def _pixel_shuffle(x: torch.Tensor, s: int) -> torch.Tensor:
    b, c, h, w = x.shape
    return (
        x.view(b, c // (s * s), s, s, h, w).permute(0, 1, 4, 2, 5, 3).reshape(b, c // (s * s), h * s, w * s)
    )


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_espcn_infers_scale_and_matches_reference(scale):
    sd = espcn_state(scale)
    model = build(request("espcn", sd))
    assert model.scale == scale
    assert (model.hyperparameters["features"], model.hyperparameters["kernels"]) == ([16, 8], [5, 3, 3])
    x = image()
    expected = _pixel_shuffle(
        conv(torch.tanh(conv(torch.tanh(conv(x, sd, "conv1")), sd, "conv2")), sd, "conv3"), scale
    )
    with torch.no_grad():
        _close(model(x), expected)


def test_espcn_scale_mismatch():
    with pytest.raises(UsageError, match=r"espcn_test\.safetensors.*x3.*x2"):
        build(request("espcn", espcn_state(3), scale=2))


# ---------------------------------------------------------------------------------------------- VDSR


def vdsr_state(layers: int, channels: int = 3, nf: int = 8) -> dict:
    g = torch.Generator().manual_seed(2)
    sd: dict = {}
    for i in range(layers):
        rand_conv(sd, f"convs.{i}", channels if i == layers - 1 else nf, channels if i == 0 else nf, 3, g)
    return sd


def ref_vdsr_stack(sd: dict, x: torch.Tensor, layers: int) -> torch.Tensor:
    r = x
    for i in range(layers - 1):
        r = F.relu(conv(r, sd, f"convs.{i}"))
    return x + conv(r, sd, f"convs.{layers - 1}")


def test_vdsr_rgb_matches_reference():
    sd = vdsr_state(5)
    model = build(request("vdsr", sd, scale=3))
    hp = model.hyperparameters
    assert (hp["num_layers"], hp["num_feat"], hp["channels"], model.scale) == (5, 8, 3, 3)
    x = image()
    with torch.no_grad():
        _close(model(x), ref_vdsr_stack(sd, bicubic(x, 3), 5))


def test_vdsr_y_channel_variant():
    sd = vdsr_state(4, channels=1)
    model = build(request("vdsr", sd, scale=2))
    x = image()
    ycc = to_ycc(bicubic(x, 2))
    expected = from_ycc(torch.cat([ref_vdsr_stack(sd, ycc[:, :1], 4), ycc[:, 1:]], 1))
    with torch.no_grad():
        _close(model(x), expected)


def test_vdsr_missing_layer_is_listed():
    sd = vdsr_state(5)
    del sd["convs.2.weight"], sd["convs.2.bias"]
    with pytest.raises(WeightsError, match=r"vdsr_test\.safetensors.*missing 2 keys.*convs\.2\.bias"):
        build(request("vdsr", sd, scale=2))


def test_full_size_small_nets_build():
    from genedit_sr.layouts import make_module

    vdsr = make_module("vdsr", {"scale": 2})
    assert len(vdsr.convs) == 20 and vdsr.channels == 3
    srcnn = make_module("srcnn", {"scale": 2})
    assert tuple(srcnn.conv1.weight.shape) == (64, 1, 9, 9) and tuple(srcnn.conv3.weight.shape) == (
        1,
        32,
        5,
        5,
    )
    espcn = make_module("espcn", {"scale": 3})
    assert tuple(espcn.conv3.weight.shape) == (27, 32, 3, 3)
