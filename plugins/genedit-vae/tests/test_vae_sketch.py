"""Sketch extraction and the synthetic shapes set."""

from __future__ import annotations

import pytest
import torch
from genedit_vae.shapes import FACTORS, RANGES, ShapesDataset, hsv_to_rgb, render, sample_factors
from genedit_vae.sketch import extract_sketch


@pytest.mark.parametrize("method", ["xdog", "sobel"])
@pytest.mark.parametrize("shape", [(1, 3, 37, 53), (2, 1, 16, 16), (1, 3, 8, 5)])
def test_sketch_is_one_channel_at_input_size(method, shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    s = extract_sketch(x, method)
    assert s.shape == (shape[0], 1, shape[2], shape[3])
    assert s.min() >= 0 and s.max() <= 1


@pytest.mark.parametrize("method", ["xdog", "sobel"])
def test_sketch_draws_dark_lines_only_at_edges(method):
    x = torch.zeros(1, 3, 32, 32)
    x[..., :, 16:] = 1.0  # a vertical step edge
    s = extract_sketch(x, method)[0, 0]
    assert s[:, :10].min() > 0.95 and s[:, 22:].min() > 0.95  # flat paper stays white
    assert s[:, 13:19].min() < 0.3  # a dark line along the edge
    flat = extract_sketch(torch.full((1, 3, 20, 20), 0.4), method)
    assert torch.allclose(flat, torch.ones_like(flat))


def test_unknown_sketch_method_is_refused():
    with pytest.raises(ValueError, match="xdog or sobel"):
        extract_sketch(torch.rand(1, 3, 8, 8), "canny")


def test_shapes_are_deterministic_and_follow_their_factors():
    a, b = ShapesDataset(16, size=24, seed=3), ShapesDataset(16, size=24, seed=3)
    assert torch.equal(a.images, b.images)
    assert not torch.equal(a.images, ShapesDataset(16, size=24, seed=4).images)
    item = a[5]
    assert item["image"].shape == (3, 24, 24) and item["factors"].shape == (len(FACTORS),)
    f = sample_factors(500, seed=0)
    for name, (lo, hi) in RANGES.items():
        assert f[name].min() >= lo and f[name].max() <= hi
    # One red circle in the middle: centred mass, red colour, nothing at the corners.
    one = {
        "shape": torch.tensor([1.0]),
        "scale": torch.tensor([0.2]),
        "x": torch.tensor([0.5]),
        "y": torch.tensor([0.5]),
        "hue": torch.tensor([0.0]),
    }
    img = render(one, size=32)[0]
    assert img[0, 16, 16] > 0.99 and img[1, 16, 16] < 0.15 and img[:, 0, 0].sum() == 0
    area = (img[0] > 0.5).float().sum().item()
    assert area == pytest.approx(3.1416 * (0.2 * 32) ** 2, rel=0.1)
    moved = render({**one, "x": torch.tensor([0.3])}, size=32)[0]
    cols = torch.arange(32).float()
    assert (moved[0].sum(0) * cols).sum() / moved[0].sum() < (img[0].sum(0) * cols).sum() / img[0].sum() - 5
    assert torch.allclose(hsv_to_rgb(torch.tensor([1 / 3])), torch.tensor([[0.1, 1.0, 0.1]]), atol=1e-5)
