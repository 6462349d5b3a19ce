"""Fast style: pytorch/examples' checkpoint layout against an independent reference forward, and
training through the core trainer (the perceptual loss falls, the run loads back and records its
feature network)."""

from __future__ import annotations

import json

import genedit_style.plugin
import numpy as np
import pytest
import torch
from genedit_style.fast_style import FastStyleTask, TransformerNet, from_state
from PIL import Image
from torch.nn import functional as F

from genedit_core.sdk import WeightsError, load
from genedit_core.testing import plugins_installed

# pytorch/examples fast_neural_style TransformerNet, as its checkpoints name the tensors
CONVS = [("conv1", 0, 1, 9), ("conv2", 1, 2, 3), ("conv3", 2, 4, 3)]  # in/out in widths (0: RGB)
RES = [f"res{i}" for i in range(1, 6)]
DECONVS = [("deconv1", 4, 2, 3), ("deconv2", 2, 1, 3)]
NORMS = {"in1": 1, "in2": 2, "in3": 4, "in4": 2, "in5": 1}


def published_state(w: int, g: torch.Generator, running_stats: bool = False) -> dict[str, torch.Tensor]:
    def conv(cin, cout, k):
        return torch.randn(cout, cin, k, k, generator=g) * (1 / (cin * k * k)) ** 0.5, torch.randn(
            cout, generator=g
        ) * 0.1

    sd = {}
    for name, cin, cout, k in CONVS:
        sd[f"{name}.conv2d.weight"], sd[f"{name}.conv2d.bias"] = conv(cin * w or 3, cout * w, k)
    for r in RES:
        for c in ("conv1", "conv2"):
            sd[f"{r}.{c}.conv2d.weight"], sd[f"{r}.{c}.conv2d.bias"] = conv(4 * w, 4 * w, 3)
        for n in ("in1", "in2"):
            sd[f"{r}.{n}.weight"], sd[f"{r}.{n}.bias"] = (
                1 + 0.1 * torch.randn(4 * w, generator=g),
                0.1 * torch.randn(4 * w, generator=g),
            )
    for name, cin, cout, k in DECONVS:
        sd[f"{name}.conv2d.weight"], sd[f"{name}.conv2d.bias"] = conv(cin * w, cout * w, k)
    sd["deconv3.conv2d.weight"], sd["deconv3.conv2d.bias"] = conv(w, 3, 9)
    for n, m in NORMS.items():
        sd[f"{n}.weight"], sd[f"{n}.bias"] = (
            1 + 0.1 * torch.randn(m * w, generator=g),
            0.1 * torch.randn(m * w, generator=g),
        )
        if running_stats:  # old checkpoints (pytorch/examples #367)
            sd[f"{n}.running_mean"], sd[f"{n}.running_var"] = torch.zeros(m * w), torch.ones(m * w)
    if running_stats:
        sd["res1.in1.running_mean"], sd["res1.in1.running_var"] = torch.zeros(4 * w), torch.ones(4 * w)
    return sd


def reference(sd: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """TransformerNet's forward from the tensors alone."""

    def conv(name, h, stride=1, up=False):
        w = sd[f"{name}.conv2d.weight"]
        if up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = F.pad(h, [w.shape[-1] // 2] * 4, mode="reflect")
        return F.conv2d(h, w, sd[f"{name}.conv2d.bias"], stride=stride)

    def norm(name, h):
        return F.instance_norm(h, weight=sd[f"{name}.weight"], bias=sd[f"{name}.bias"], eps=1e-5)

    h = F.relu(norm("in1", conv("conv1", x)))
    h = F.relu(norm("in2", conv("conv2", h, 2)))
    h = F.relu(norm("in3", conv("conv3", h, 2)))
    for r in RES:
        h = h + norm(f"{r}.in2", conv(f"{r}.conv2", F.relu(norm(f"{r}.in1", conv(f"{r}.conv1", h)))))
    h = F.relu(norm("in4", conv("deconv1", h, up=True)))
    h = F.relu(norm("in5", conv("deconv2", h, up=True)))
    return conv("deconv3", h)


@pytest.mark.parametrize("running_stats", [False, True])
def test_pytorch_examples_layout_matches_the_reference(tmp_path, running_stats):
    g = torch.Generator().manual_seed(0)
    sd = published_state(4, g, running_stats)
    path = tmp_path / "candy.pth"
    torch.save(sd, path)  # a plain state dict, read with weights_only=True
    with plugins_installed(style=genedit_style.plugin):
        model = load("fast-style", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["width"] == 4
    x = torch.rand(1, 3, 20, 28, generator=g)
    with torch.no_grad():
        assert torch.allclose(model.module(x * 255), reference(sd, x * 255), atol=1e-3)
        expected = (reference(sd, x * 255) / 255).clamp(0, 1)
        assert torch.allclose(model(x), expected, atol=1e-5)
    assert sorted(TransformerNet(4).state_dict()) == sorted(k for k in sd if "running" not in k)


def test_odd_sizes_and_wrong_files():
    net = from_state(TransformerNet(2).state_dict(), "t")
    from genedit_style.fast_style import stylize_01

    assert stylize_01(net, torch.rand(1, 3, 13, 7)).shape == (1, 3, 13, 7)
    with pytest.raises(WeightsError, match=r"^edsr\.pt: not a fast-style TransformerNet"):
        from_state({"head.0.weight": torch.zeros(1)}, "edsr.pt")


def test_training_lowers_the_perceptual_loss_and_the_run_loads_back(tmp_path):
    from genedit_core.sdk import Trainer, load_config

    task = FastStyleTask()
    sets = ["model.width=4", "data.size=32", "data.epoch_length=8", "style.size=48", "train.batch_size=2"]
    cfg = load_config(task.default_config, None, sets + ["train.lr=1e-2"])
    # 1. on one fixed batch, Adam on the perceptual loss lowers it (real optimisation, not a mock)
    torch.manual_seed(0)
    net = task.build_networks(cfg)["model"]
    opt = task.build_optimizers({"model": net}, cfg)["model"]
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    w = cfg["loss"]
    totals = []
    for _ in range(8):
        terms = task.losses(net(x * 255) / 255, x, cfg)
        loss = (
            w["content_weight"] * terms["content"]
            + w["style_weight"] * terms["style"]
            + w["tv_weight"] * terms["tv"]
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        totals.append(float(loss.detach()))
    assert totals[-1] < 0.7 * totals[0]
    # 2. the shared trainer runs it end to end, and the exported run is a --weights for stylize
    cfg = load_config(task.default_config, None, sets + ["train.steps=2", "train.log_every=1"])
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        pixels = np.random.default_rng(i).integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"{i}.png")
    cfg["data"]["source"] = str(photos)
    run = tmp_path / "run"
    Trainer(FastStyleTask(), cfg, run, data=str(photos), quiet=True).fit()
    exported = json.loads((run / "config.json").read_text())
    assert exported["feature_network"].startswith("gatys:vgg16-hed") and exported["width"] == 4
    with plugins_installed(style=genedit_style.plugin):
        model = load("fast-style", weights=str(run), device="cpu", dtype="fp32")
    assert model.hyperparameters["feature_network"] == exported["feature_network"]
    assert model(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_bundled_swirls_network_moves_a_photo_towards_the_painting():
    from pathlib import Path

    from genedit_style.features import resize_longest
    from genedit_style.gatys import GatysLoss
    from genedit_style.options import GatysSettings
    from genedit_style.styleimage import read_style

    from genedit_core.sdk import read_image

    with plugins_installed(style=genedit_style.plugin):
        fast = load("fast-style", device="cpu", dtype="fp32")
        vgg = load("gatys", device="cpu", dtype="fp32").module
    assert fast.weights.variant == "swirls" and fast.hyperparameters["feature_network"].startswith(
        "gatys:vgg16-hed"
    )
    cat = Path(__file__).resolve().parents[3] / "examples" / "cat.png"
    x = resize_longest(torch.from_numpy(read_image(cat).pixels).permute(2, 0, 1)[None][:, :3].float(), 64)
    painting = resize_longest(read_style(None), 64)
    loss = GatysLoss(vgg, x, painting, GatysSettings())
    with torch.no_grad():
        start, end = loss.terms(x), loss.terms(fast(x))
        painting_content = loss.terms(
            torch.nn.functional.interpolate(painting, size=x.shape[-2:], mode="area")
        )
    assert end["style"] < 0.8 * start["style"]  # measured 0.468 vs 0.682
    assert end["content"] < 0.8 * painting_content["content"]  # the photo is still there
