"""Colour transfer: Lab conversions against published values, and the statistics really move."""

from __future__ import annotations

import genedit_style.plugin
import pytest
import torch
from genedit_style.colour import lab_to_rgb, reinhard, rgb_to_lab

from genedit_core.sdk import EditRequest, UsageError, load
from genedit_core.testing import plugins_installed


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [  # CIE Lab (D65) of sRGB primaries and white, as colour-science tables give them
        ((1.0, 1.0, 1.0), (100.0, 0.0, 0.0)),
        ((1.0, 0.0, 0.0), (53.24, 80.09, 67.20)),
        ((0.0, 1.0, 0.0), (87.73, -86.18, 83.18)),
        ((0.0, 0.0, 1.0), (32.30, 79.19, -107.86)),
    ],
)
def test_lab_of_primaries(rgb, lab):
    got = rgb_to_lab(torch.tensor(rgb).view(1, 3, 1, 1)).flatten()
    assert torch.allclose(got, torch.tensor(lab), atol=0.05)


def test_round_trip_and_statistics_move():
    g = torch.Generator().manual_seed(0)
    photo = torch.rand(1, 3, 16, 20, generator=g) * 0.6 + 0.2
    assert torch.allclose(lab_to_rgb(rgb_to_lab(photo)), photo, atol=1e-4)
    style = torch.rand(1, 3, 12, 12, generator=g) * torch.tensor([0.3, 0.4, 0.9]).view(1, 3, 1, 1)
    out = reinhard(photo, style)
    mean_out, mean_style = rgb_to_lab(out).mean((2, 3)), rgb_to_lab(style).mean((2, 3))
    before = (rgb_to_lab(photo).mean((2, 3)) - mean_style).norm()
    assert (mean_out - mean_style).norm() < 0.2 * before  # not exact: colours outside sRGB are clipped
    assert torch.equal(reinhard(photo, style, strength=0.0), lab_to_rgb(rgb_to_lab(photo)))


def test_edit_reads_strength_and_refuses_a_bad_one():
    with plugins_installed(style=genedit_style.plugin):
        model = load("colour-transfer", device="cpu", dtype="fp32")

    def request(strength: str) -> EditRequest:
        return EditRequest("stylize", model.card, model, torch.rand(1, 3, 8, 8), None, {"strength": strength})

    assert genedit_style.plugin.edit(request("0.5")).shape == (1, 3, 8, 8)
    with pytest.raises(UsageError, match="--strength"):
        genedit_style.plugin.edit(request("2"))
