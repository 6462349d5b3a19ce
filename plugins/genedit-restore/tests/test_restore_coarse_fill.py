"""The torch biharmonic fill (the inpainting network's coarse stage) against scikit-image's, and the
untrained refinement network, which must be exactly that fill."""

from __future__ import annotations

import numpy as np
import pytest
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


def _exact_harmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """An independent reference: the discrete Laplace equation on the hole solved directly with a
    sparse LU (each hole pixel the mean of its in-image 4-neighbours), per channel."""
    from scipy.sparse import lil_matrix
    from scipy.sparse.linalg import spsolve

    h, w = hole.shape
    index = -np.ones((h, w), int)
    ys, xs = np.nonzero(hole)
    index[ys, xs] = np.arange(len(ys))
    out = image.copy()
    a = lil_matrix((len(ys), len(ys)))
    b = np.zeros((len(ys), image.shape[0]))
    for k, (y, x) in enumerate(zip(ys, xs)):
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < h and 0 <= nx < w:
                a[k, k] += 1
                if hole[ny, nx]:
                    a[k, index[ny, nx]] -= 1
                else:
                    b[k] += image[:, ny, nx]
    solution = spsolve(a.tocsc(), b)
    out[:, ys, xs] = solution.T
    return out


def test_harmonic_fill_matches_a_direct_solve_and_never_overshoots():
    from genedit_restore._arch.coarse_fill import biharmonic_fill, harmonic_fill

    x = _smooth_image()
    hole = torch.zeros(1, 1, 40, 48)
    hole[..., 8:20, 10:30] = 1
    hole[..., 25:28, 5:45] = 1
    damaged = x * (1 - hole) + 0.5 * hole
    ours = harmonic_fill(damaged, hole, steps=60)
    ref = torch.from_numpy(_exact_harmonic(damaged[0].double().numpy(), hole[0, 0].numpy() > 0))[None].float()
    inside = hole.expand_as(x) > 0
    assert torch.equal(ours[~inside], damaged[~inside])
    assert (ours - ref)[inside].abs().max() < 0.01
    # A peak cut off by the hole: the biharmonic fill carries the slopes on past the known
    # maximum, the harmonic one stays within the known values (the maximum principle).
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 40), torch.linspace(-1, 1, 48), indexing="ij")
    peak = (1 - 0.8 * (xx**2 + yy**2)).clamp(0, 1).expand(1, 3, 40, 48).contiguous()
    box = torch.zeros(1, 1, 40, 48)
    box[..., 12:28, 14:34] = 1
    known_max = peak[(box.expand_as(peak) == 0)].max()
    assert biharmonic_fill(peak, box).max() > known_max + 0.02
    assert harmonic_fill(peak, box).max() <= known_max + 1e-5


@pytest.mark.parametrize("global_gate", [False, True])
def test_untrained_blend_network_is_the_mean_of_the_two_fills(global_gate):
    from genedit_restore._arch.coarse_fill import biharmonic_fill, harmonic_fill
    from genedit_restore._arch.gated_unet import GatedUNet

    torch.manual_seed(0)
    net = GatedUNet(features=4, dilated=1, coarse="blend", global_gate=global_gate).eval()
    assert net.enc0.feature.in_channels == 7 and net.out.out_channels == 4
    x = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 32, 40), 5, 1, 2)
    hole = torch.from_numpy(np.random.default_rng(1).random((2, 1, 32, 40)) < 0.3).float()
    damaged = x * (1 - hole)
    mean = (0.5 * (biharmonic_fill(damaged, hole) + harmonic_fill(damaged, hole))).clamp(0, 1)
    with torch.no_grad():
        assert torch.allclose(net(x, hole), mean, atol=1e-6)
        if global_gate:  # the image-wide term alone moves the gate: the same α shift everywhere
            torch.nn.init.constant_(net.gate_context.bias, 2.0)
            shifted = net(x, hole)
            alpha = torch.sigmoid(torch.tensor(2.0))
            bih, harm = biharmonic_fill(damaged, hole), harmonic_fill(damaged, hole)
            assert torch.allclose(shifted, (harm + alpha * (bih - harm)).clamp(0, 1), atol=1e-5)
        torch.nn.init.normal_(net.out.weight, std=0.5)  # a trained gate moves the hole only
        y = net(x, hole)
    keep = hole.expand_as(x) == 0
    assert torch.equal(y[keep], x[keep]) and (y - mean)[~keep].abs().max() > 1e-3


def test_a_blend_checkpoint_loads_as_one_by_its_shapes():
    from genedit_restore._arch.gated_unet import GatedUNet
    from genedit_restore.layouts import LayoutMismatch, find_layout

    state = GatedUNet(features=4, dilated=1, coarse="blend").state_dict()
    layout = find_layout("gated-unet", state)
    _, hp = layout.convert(state)
    assert hp == {"features": 4, "dilated": 1, "coarse": "blend"}
    _, hp = layout.convert(GatedUNet(features=4, dilated=1).state_dict())
    assert hp["coarse"] == "biharmonic"
    _, hp = layout.convert(GatedUNet(features=4, dilated=1, coarse="blend", global_gate=True).state_dict())
    assert hp["global_gate"] is True
    with pytest.raises(ValueError, match="global_gate"):
        GatedUNet(features=4, dilated=1, global_gate=True)  # nothing to gate without two fills
    state["enc0.feature.weight"] = state["enc0.feature.weight"][:, :5]
    with pytest.raises(LayoutMismatch, match="5"):
        layout.convert(state)
