"""DiffAugment: seeded, differentiable, and the transforms do what they say."""

from __future__ import annotations

import pytest
import torch
from genedit_gan.losses import diff_augment, parse_diffaug

from genedit_core.errors import UsageError


def _noise(seed: int):
    g = torch.Generator().manual_seed(seed)
    return (lambda *s: torch.rand(*s, generator=g)), (lambda h, s: torch.randint(h, s, generator=g))


def test_translation_moves_content_without_changing_it():
    x = torch.zeros(16, 1, 16, 16)
    x[:, :, 7, 9] = 1.0
    y = diff_augment(x, ("translation",), *_noise(0))
    assert y.shape == x.shape
    assert torch.all(y.flatten(1).sum(1) == 1.0)  # a shift of at most 2 px keeps the dot in frame
    moved = [tuple(torch.nonzero(img[0])[0].tolist()) for img in y]
    assert all(abs(r - 7) <= 2 and abs(c - 9) <= 2 for r, c in moved)
    assert len(set(moved)) > 3  # different shifts per image


def test_cutout_zeroes_a_quarter_at_most_and_gradients_flow():
    x = torch.ones(8, 1, 16, 16, requires_grad=True)
    y = diff_augment(x, ("cutout",), *_noise(1))
    zero_frac = (y.detach() == 0).float().mean((1, 2, 3))
    assert torch.all(zero_frac > 0) and torch.all(zero_frac <= 0.25 + 1e-6)
    y.sum().backward()
    assert torch.equal(x.grad, (y.detach() != 0).float())


def test_same_noise_same_augmentation_and_policy_parsing():
    x = torch.randn(4, 3, 8, 8)
    a = diff_augment(x, ("translation", "cutout", "brightness", "contrast"), *_noise(5))
    b = diff_augment(x, ("translation", "cutout", "brightness", "contrast"), *_noise(5))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert parse_diffaug("translation, cutout") == ("translation", "cutout")
    assert parse_diffaug(None) == () and parse_diffaug("") == ()
    with pytest.raises(UsageError, match="unknown"):
        parse_diffaug("translation,rotate")
