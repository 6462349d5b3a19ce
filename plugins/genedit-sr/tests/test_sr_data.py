"""SR training pairs: seeded crops, the core's degradation on the LR side, small images left out."""

from __future__ import annotations

import pytest
import torch
from genedit_sr.data import SRPatches

from genedit_core.errors import UsageError
from genedit_core.imageops import downscale
from genedit_core.training.data import SeededBatches


def _source() -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return [
        torch.rand(3, 40, 50, generator=gen),
        torch.rand(3, 20, 20, generator=gen),
        torch.rand(3, 64, 33, generator=gen),
    ]


def test_pairs_are_seeded_and_lr_is_the_core_downscale():
    ds = SRPatches(_source(), scale=2, patch=16, length=10)
    lr1, hr1 = ds.get(0, torch.Generator().manual_seed(5))
    lr2, hr2 = ds.get(0, torch.Generator().manual_seed(5))
    assert torch.equal(lr1, lr2) and torch.equal(hr1, hr2)
    assert lr1.shape == (3, 16, 16) and hr1.shape == (3, 32, 32)
    assert torch.equal(lr1, downscale(hr1, 2))
    other = [ds.get(0, torch.Generator().manual_seed(s))[1] for s in range(6, 12)]
    assert any(not torch.equal(hr1, o) for o in other)
    assert len(ds) == 10 and torch.equal(ds[3][1], ds[3][1])


def test_without_augmentation_the_hr_patch_is_a_window_of_a_source_image():
    src = _source()
    ds = SRPatches(src, scale=2, patch=16, augment=False)
    _, hr = ds.get(0, torch.Generator().manual_seed(1))
    windows = [
        im[:, y : y + 32, x : x + 32]
        for im in src
        for y in range(im.shape[1] - 31)
        for x in range(im.shape[2] - 31)
    ]
    assert any(torch.equal(hr, w) for w in windows)


def test_images_smaller_than_a_patch_are_left_out_and_labels_dropped():
    src = _source()
    ds = SRPatches([(im, 7) for im in src], scale=2, patch=16)
    assert len(ds.images) == 2  # the 20×20 image is smaller than the 32-pixel HR patch
    assert torch.allclose(ds.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    with pytest.raises(UsageError, match="smaller than the HR patch 64px"):
        SRPatches(src, scale=4, patch=16)


def test_core_batching_draws_pairs_through_get():
    batches = SeededBatches(SRPatches(_source(), scale=2, patch=8, length=12), 4, seed=1)
    lr, hr = batches.batch(3)
    assert lr.shape == (4, 3, 8, 8) and hr.shape == (4, 3, 16, 16)
    assert torch.equal(batches.batch(3)[1], hr) and not torch.equal(batches.batch(4)[1], hr)


@pytest.mark.parametrize("channels", [1, 2, 4])
def test_grey_and_alpha_sources_become_rgb_pairs(channels):
    """builtin:digits is grey (1×H×W): the networks take RGB, so grey is repeated and alpha dropped,
    the rule a folder of images follows; before, training died in the first conv."""
    image = torch.rand(channels, 24, 24, generator=torch.Generator().manual_seed(channels))
    lr, hr = SRPatches([image], scale=2, patch=8, length=4, augment=False).get(0, torch.Generator())
    assert lr.shape == (3, 8, 8) and hr.shape == (3, 16, 16)
    expected = image[:1].expand(3, -1, -1) if channels in (1, 2) else image[:3]
    assert any(torch.equal(hr, expected[:, y : y + 16, x : x + 16]) for y in range(9) for x in range(9))


def test_a_source_that_is_not_an_image_is_one_line():
    with pytest.raises(UsageError, match=r"training image 0 has shape \(5, 24, 24\)"):
        SRPatches([torch.rand(5, 24, 24)], scale=2, patch=8)
