"""The torch biharmonic fill (the inpainting network's coarse stage) against scikit-image's, and the
untrained refinement network, which must be exactly that fill."""

from __future__ import annotations

import numpy as np
import torch


def _smooth_image(h: int = 40, w: int = 48) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([0.2 + 0.6 * xx * yy, 0.5 + 0.3 * torch.sin(3 * xx), 0.8 - 0.5 * yy**2])[None]


def test_biharmonic_fill_matches_scikit_image_and_keeps_known_pixels():
    from genedit_restore._arch.coarse_fill import biharmonic_fill
    from skimage.restoration import inpaint_biharmonic

    x = _smooth_image()
    hole = torch.zeros(1, 1, 40, 48)
    hole[..., 8:20, 10:30] = 1  # a box
    hole[..., 25:28, 5:45] = 1  # a stroke
    damaged = x * (1 - hole) + 0.5 * hole
    ours = biharmonic_fill(damaged, hole)
    keep = hole.expand_as(x) == 0
    assert torch.equal(ours[keep], damaged[keep])
    ref = inpaint_biharmonic(damaged[0].permute(1, 2, 0).numpy(), hole[0, 0].numpy() > 0, channel_axis=-1)
    ref = torch.from_numpy(ref).permute(2, 0, 1)[None].float()
    inside = ~keep
    assert (ours - ref)[inside].abs().max() < 0.02  # the same solution, to a fraction of a grey level
    assert (damaged - x)[inside].abs().mean() > 10 * (ours - x)[inside].abs().mean()  # and it fills


def test_untrained_network_is_the_coarse_fill():
    from genedit_restore._arch.coarse_fill import biharmonic_fill
    from genedit_restore._arch.gated_unet import GatedUNet

    torch.manual_seed(0)
    net = GatedUNet(features=4, dilated=1).eval()
    x = torch.rand(2, 3, 32, 40)
    hole = torch.from_numpy(np.random.default_rng(0).random((2, 1, 32, 40)) < 0.2).float()
    coarse = biharmonic_fill(x * (1 - hole), hole).clamp(0, 1)  # noise overshoots 0-1 in places
    with torch.no_grad():
        assert torch.equal(net(x, hole), coarse)
        torch.nn.init.normal_(net.out.weight, std=0.1)  # a trained last layer moves the hole only
        y = net(x, hole)
    keep = hole.expand_as(x) == 0
    assert torch.equal(y[keep], x[keep]) and not torch.equal(y, coarse)


def test_mask_scale_draws_the_strokes_of_a_larger_image():
    from genedit_restore.masks import random_mask

    def edge_ratio(scale: float) -> float:  # hole pixels next to a known pixel, per hole pixel
        ratios = []
        for seed in range(8):
            m = random_mask(64, 64, np.random.default_rng(seed), (0.2, 0.3), scale)
            inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
            ratios.append(1 - inner.sum() / max(1, m[1:-1, 1:-1].sum()))
        return float(np.mean(ratios))

    assert edge_ratio(4.0) < 0.6 * edge_ratio(1.0)  # wider strokes and boxes: less edge per area
