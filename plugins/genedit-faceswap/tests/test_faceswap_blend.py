"""Poisson (seamless) blending and histogram colour matching: the solver keeps the source's
gradients inside, the photo's values outside, and removes the colour step a plain paste leaves."""

from __future__ import annotations

import torch
from genedit_faceswap.blend import _neighbour_sum, poisson_blend
from genedit_faceswap.convert import histogram_match


def _laplacian(x: torch.Tensor) -> torch.Tensor:
    return 4 * x - _neighbour_sum(x)


def _scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    target = torch.linspace(0.1, 0.6, 48)[None, None, :].expand(3, 40, 48).clone()
    source = 0.8 + 0.1 * torch.rand(3, 40, 48, generator=g)  # brighter, textured
    yy, xx = torch.meshgrid(torch.arange(40), torch.arange(48), indexing="ij")
    region = ((yy - 20) / 12) ** 2 + ((xx - 24) / 15) ** 2 <= 1
    return target, source, region


def test_poisson_keeps_the_source_gradients_inside_and_the_target_outside():
    target, source, region = _scene()
    out = poisson_blend(target, source, region)
    assert torch.equal(out[:, ~region], target[:, ~region])
    inner = region.clone()
    inner &= (
        torch.roll(region, 1, 0)
        & torch.roll(region, -1, 0)
        & torch.roll(region, 1, 1)
        & torch.roll(region, -1, 1)
    )
    err = (_laplacian(out.double()) - _laplacian(source.double()))[:, inner].abs().max()
    assert err < 1e-3, err


def test_poisson_removes_the_step_a_plain_paste_leaves_at_the_border():
    target, source, region = _scene()
    naive = torch.where(region, source, target)
    seamless = poisson_blend(target, source, region)

    def jump(img: torch.Tensor) -> float:  # mean |difference| across the region's left/right edges
        edge = region & ~torch.roll(region, 1, 1)
        return float((img[:, edge] - img[:, torch.roll(edge, -1, 1)]).abs().mean())

    assert jump(naive) > 0.2 and jump(seamless) < 0.1 * jump(naive)


def test_histogram_match_gives_the_reference_distribution_inside_the_mask():
    g = torch.Generator().manual_seed(2)
    source = torch.rand(1, 3, 20, 20, generator=g) ** 2
    reference = 0.5 + 0.3 * torch.rand(1, 3, 20, 20, generator=g)
    mask = torch.zeros(1, 1, 20, 20)
    mask[..., 5:15, 5:15] = 1
    out = histogram_match(source, reference, mask)
    inside = mask[0, 0] > 0.5
    for ch in range(3):
        a, b = out[0, ch][inside].sort().values, reference[0, ch][inside].sort().values
        assert (a - b).abs().max() < 0.02
    # the order of the source's pixels is kept: matching is monotone
    i = torch.argsort(source[0, 0][inside])
    assert (out[0, 0][inside][i].diff() >= 0).all()


def test_paste_poisson_removes_a_colour_offset_that_feathering_keeps(astronaut_256):
    from genedit_faceswap.align import align
    from genedit_faceswap.convert import feather_mask, paste

    landmarks = torch.tensor([[101.2, 50.1], [123.0, 51.1], [112.1, 63.7], [100.4, 70.1], [122.2, 70.4]])
    crop, matrix = align(astronaut_256, landmarks, 64)
    tinted = (crop + torch.tensor([0.25, -0.1, 0.0])[:, None, None]).clamp(0, 1)
    mask = feather_mask(64, 0.25)
    face = (slice(None), slice(None), slice(50, 70), slice(102, 122))
    feathered = paste(astronaut_256, tinted, mask, matrix, "feather")
    seamless = paste(astronaut_256, tinted, mask, matrix, "poisson")
    assert (feathered - astronaut_256)[face][:, 0].mean() > 0.15
    assert (seamless - astronaut_256)[face].abs().mean() < 0.05
    assert torch.equal(seamless[..., :, :40], astronaut_256[..., :, :40])  # far away: untouched
