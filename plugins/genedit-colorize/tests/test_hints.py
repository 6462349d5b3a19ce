"""Hint simulation (Zhang et al. 2017) and hints read from an RGBA image."""

import pytest
import torch
from genedit_colorize.hints import hints_from_rgba, sample_count, simulate_hints


def target(h: int = 40, w: int = 50) -> torch.Tensor:
    """Left half red, right half blue: every hint's colour is the mean of the patch it covers."""
    t = torch.zeros(3, h, w)
    t[0, :, : w // 2] = 1.0
    t[2, :, w // 2 :] = 1.0
    return t


def test_hint_colours_are_patch_means_and_zero_elsewhere():
    t = target()
    colours, mask = simulate_hints(t, torch.Generator().manual_seed(3), count=20)
    assert colours.shape == (3, 40, 50) and mask.shape == (1, 40, 50)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert float(colours[:, mask[0] == 0].abs().max()) == 0.0
    on = colours[:, mask[0] == 1]
    assert on.shape[1] > 0
    # a patch's colour is its mean over the target: red + blue sum to 1 and green is 0
    assert torch.allclose(on[0] + on[2], torch.ones_like(on[0]), atol=1e-6)
    assert float(on[1].abs().max()) == 0.0


def test_zero_hints_and_one_pixel_patches():
    t = target()
    colours, mask = simulate_hints(t, torch.Generator().manual_seed(0), count=0)
    assert mask.sum() == 0 and colours.abs().sum() == 0
    colours, mask = simulate_hints(t, torch.Generator().manual_seed(0), count=5, max_patch=1)
    assert 1 <= int(mask.sum()) <= 5
    # one-pixel patches copy the target exactly
    assert torch.equal(colours[:, mask[0] == 1], t[:, mask[0] == 1])


def test_count_is_geometric_with_mean_7():
    # failures before the first success with p = 1/8: mean (1-p)/p = 7, P(0) = 1/8
    gen = torch.Generator().manual_seed(1)
    counts = [sample_count(gen) for _ in range(4000)]
    assert 6.3 < sum(counts) / len(counts) < 7.7
    assert 0.10 < counts.count(0) / len(counts) < 0.15
    assert sample_count(gen, p=1.0) == 0


def test_same_generator_state_gives_the_same_hints():
    t = torch.rand(3, 32, 32)
    a = simulate_hints(t, torch.Generator().manual_seed(7))
    b = simulate_hints(t, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="p must"):
        simulate_hints(target(), torch.Generator(), p=0.0)
    with pytest.raises(ValueError, match="max_patch"):
        simulate_hints(target(), torch.Generator(), max_patch=0)


def test_rgba_hints_keep_only_opaque_pixels():
    rgba = torch.zeros(4, 6, 6)
    rgba[:3, 2, 3] = torch.tensor([0.8, 0.2, 0.1])
    rgba[3, 2, 3] = 1.0
    rgba[:3, 4, 4] = 0.9  # colour under a transparent pixel: no hint
    colours, mask = hints_from_rgba(rgba)
    assert int(mask.sum()) == 1 and mask[0, 2, 3] == 1
    assert torch.allclose(colours[:, 2, 3], torch.tensor([0.8, 0.2, 0.1]))
    assert float(colours[:, 4, 4].abs().max()) == 0.0
