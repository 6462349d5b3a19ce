"""The core's shared pixel operations: one grid helper for every preview, one SR degradation, one
CIE Lab conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genedit_core.imageops import downscale, lab_to_rgb, luminance, make_grid, rgb_to_lab, xdog


def _tiles(n: int, c: int = 3, h: int = 4, w: int = 5) -> torch.Tensor:
    """Tile i is filled with i / 8 (exact in bfloat16 too), so every tile can be found in the grid."""
    return torch.arange(n, dtype=torch.float32).div(8).view(n, 1, 1, 1).expand(n, c, h, w).clone()


def test_grid_is_near_square_row_major_with_white_gutters():
    grid = make_grid(_tiles(5))
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (5 + 2) + 2, 3) and grid.dtype == np.float32
    for i in range(5):
        r, q = divmod(i, 3)
        y, x = 2 + r * 6, 2 + q * 7
        assert np.all(grid[y : y + 4, x : x + 5] == pytest.approx(i / 8))
    assert np.all(grid[:2] == 1) and np.all(grid[:, :2] == 1)  # outer gutter
    assert np.all(grid[8 : 8 + 4, 2 + 2 * 7 : 2 + 2 * 7 + 5] == 1)  # the missing sixth tile stays white


def test_grid_columns_pad_and_inputs():
    tiles = _tiles(6, c=1)
    grid = make_grid(tiles, cols=2, pad=0)
    assert grid.shape == (3 * 4, 2 * 5, 1)
    assert grid[4, 5, 0] == pytest.approx(3 / 8)  # row 1, column 1 is tile 3
    np.testing.assert_array_equal(make_grid(tiles.numpy(), cols=2, pad=0), grid)  # arrays as tensors
    np.testing.assert_array_equal(make_grid(tiles.to(torch.bfloat16).requires_grad_(), cols=2, pad=0), grid)
    assert make_grid(tiles, cols=99).shape == make_grid(tiles, cols=6).shape  # never wider than N


@pytest.mark.parametrize("bad", [torch.zeros(0, 3, 4, 4), torch.zeros(3, 4, 4)])
def test_grid_refuses_what_is_not_a_batch(bad):
    with pytest.raises(ValueError, match="N×C×H×W"):
        make_grid(bad)


def test_downscale_shapes_and_8_bit_levels():
    x = torch.rand(2, 3, 33, 20, generator=torch.Generator().manual_seed(0))
    lr = downscale(x, 3)
    assert lr.shape == (2, 3, 11, 6)
    assert downscale(x[0], 3).shape == (3, 11, 6)
    torch.testing.assert_close(downscale(x[0], 3), lr[0])
    assert torch.equal((lr * 255).round() / 255, lr) and lr.min() >= 0 and lr.max() <= 1


def test_downscale_is_anti_aliased():
    """A one-pixel line every 4 columns averages to 1/4 at x4; point-sampling bicubic would alias it."""
    x = torch.zeros(1, 1, 32, 32)
    x[..., ::4] = 1
    lr = downscale(x, 4)
    inner = lr[..., 1:-1, 1:-1]  # away from the replicated border
    assert inner.sub(0.25).abs().max() < 0.01
    flat = downscale(torch.full((3, 8, 8), 0.5), 2)
    assert torch.equal(flat, torch.full((3, 4, 4), 128 / 255))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_lab_matches_scikit_image_and_round_trips(dtype):
    from skimage.color import rgb2lab

    x = torch.rand(2, 3, 6, 7, generator=torch.Generator().manual_seed(0), dtype=dtype)
    lab = rgb_to_lab(x)
    assert lab.shape == x.shape and lab.dtype == dtype
    for i in range(2):
        want = rgb2lab(x[i].permute(1, 2, 0).double().numpy())
        assert (
            np.abs(lab[i].permute(1, 2, 0).double().numpy() - want).max() < 0.01
        )  # its D65 white differs a little
    assert torch.allclose(lab_to_rgb(lab), x, atol=1e-4)
    white = rgb_to_lab(torch.ones(1, 3, 1, 1, dtype=dtype)).flatten()
    assert white.tolist() == pytest.approx([100.0, 0.0, 0.0], abs=1e-3)


def test_lab_to_rgb_clips_colours_srgb_cannot_show():
    out = lab_to_rgb(torch.tensor([[50.0, 120.0, -120.0], [100.0, 0.0, 0.0]]).T.reshape(1, 3, 1, 2))
    assert out.min() >= 0 and out.max() <= 1
    assert out[0, :, 0, 1].tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-3)


def _square(grey: float = 0.3, size: int = 48) -> torch.Tensor:
    """A white image with a flat grey square in the middle (1×3×size×size)."""
    x = torch.ones(1, 3, size, size)
    x[..., 12:36, 12:36] = grey
    return x


def test_xdog_draws_edges_dark_and_keeps_flat_regions_white():
    y = xdog(_square())[0, 0]
    assert y.shape == (48, 48)
    border = torch.cat([y[12:36, 12], y[12:36, 35], y[12, 12:36], y[35, 12:36]])
    assert float(border.max()) < 0.2  # just inside the square's edge, where the DoG undershoots
    assert float(y[:4, :4].min()) == 1.0 and float(y[20:28, 20:28].min()) == 1.0
    flat = torch.full((1, 1, 20, 30), 0.4)
    assert float(xdog(flat).min()) == 1.0
    assert float(xdog(torch.full((1, 3, 2, 2), 0.4)).min()) == 1.0  # smaller than the blur radius


def test_xdog_sigma_sets_line_width_and_bad_values_are_refused():
    thin = (xdog(_square(), sigma=0.6) < 0.5).sum()
    thick = (xdog(_square(), sigma=2.0) < 0.5).sum()
    assert thick > thin > 0
    with pytest.raises(ValueError, match="sigma"):
        xdog(_square(), sigma=0.0)
    with pytest.raises(ValueError, match="k > 1"):
        xdog(_square(), k=1.0)


def test_luminance_weights_and_channel_counts():
    x = torch.zeros(1, 4, 1, 1)
    x[0, :3] = torch.tensor([1.0, 0.5, 0.0]).view(3, 1, 1)
    x[0, 3] = 0.25  # alpha: ignored
    assert float(luminance(x)) == pytest.approx(0.299 + 0.5 * 0.587)
    grey = torch.rand(2, 1, 3, 3)
    assert luminance(grey) is grey
    with pytest.raises(ValueError, match="N×C×H×W"):
        luminance(torch.zeros(3, 4, 4))
