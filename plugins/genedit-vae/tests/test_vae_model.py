"""Architecture round trips, the tasks' maths (interpolation, traversal, sketch2image) and the probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genedit_vae._arch import ConvVAE, VAEConfig, infer_config
from genedit_vae.ops import interpolate, parse_dims, prepare, reconstruct, sketch_to_images, traverse
from genedit_vae.probe import disentanglement_score
from vae_testutil import TINY, lively, tiny_module, write_run

import genedit_core


@pytest.mark.parametrize(
    "cfg",
    [
        TINY["vae"],
        {**TINY["beta-vae"], "depth": 3, "image_size": 24, "max_width": 16},
        {**TINY["svae"], "learn_sigma": True},
        {
            "in_channels": 3,
            "image_size": 32,
            "latent_dim": 7,
            "width": 8,
            "depth": 2,
            "max_width": 8,
            "hidden": 12,
        },
    ],
)
def test_config_is_read_back_from_the_state_dict(cfg):
    model = ConvVAE(VAEConfig.from_dict(cfg))
    back = infer_config(model.state_dict(), {"likelihood": model.config.likelihood})
    assert back == model.config
    x = torch.rand(2, back.in_channels, back.image_size, back.image_size)
    s = torch.rand(2, 1, back.image_size, back.image_size) if back.conditional else None
    out = model(x, s)
    assert out["logits"].shape == x.shape and out["mu"].shape == (2, back.latent_dim)


def test_bad_shapes_are_refused_with_the_expected_size():
    model = tiny_module("vae")
    with pytest.raises(ValueError, match=r"N×1×16×16"):
        model.encode(torch.rand(1, 1, 20, 20))
    with pytest.raises(ValueError, match="multiple of"):
        VAEConfig(image_size=20, depth=3)
    with pytest.raises(ValueError, match="not a genedit VAE"):
        infer_config({"weight": torch.zeros(1)})


def test_interpolation_endpoints_reproduce_the_reconstructions():
    model = lively(tiny_module("beta-vae"))
    g = torch.Generator().manual_seed(0)
    a, b = torch.rand(1, 3, 40, 30, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    xa, xb = prepare(model, a), prepare(model, b)
    frames = interpolate(model, xa, xb, steps=5)
    assert len(frames) == 5 and all(f.shape == (1, 3, 16, 16) for f in frames)
    assert torch.allclose(frames[0], reconstruct(model, xa), atol=1e-6)
    assert torch.allclose(frames[-1], reconstruct(model, xb), atol=1e-6)
    assert (frames[2] - frames[0]).abs().max() > 1e-3


def test_traversal_grid_changes_only_along_its_row():
    model = tiny_module("vae")
    x = prepare(model, torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2)))
    grid = traverse(model, x, dims=[0, 2], radius=3.0, steps=5)
    assert grid.shape == (1, 1, 2 * 18 + 2, 5 * 18 + 2)
    cells = [
        [grid[0, 0, 2 + r * 18 : 2 + r * 18 + 16, 2 + c * 18 : 2 + c * 18 + 16] for c in range(5)]
        for r in range(2)
    ]
    assert not torch.allclose(cells[0][0], cells[0][4])  # moving a dimension changes the image
    assert parse_dims("0-2,5", 8) == [0, 1, 2, 5]
    assert parse_dims("all", 3) == [0, 1, 2]
    with pytest.raises(genedit_core.errors.UsageError, match="0–3"):
        parse_dims("2-9", 4)


def test_sketch2image_size_and_determinism_per_seed():
    model = lively(tiny_module("svae"))
    with torch.no_grad():
        model.prior_logvar.bias.fill_(0.0)
    sketch = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    a = sketch_to_images(model, sketch, [0, 1, 2])
    b = sketch_to_images(model, sketch, [0, 1, 2])
    assert a.shape == (3, 3, 16, 16)
    assert torch.equal(a, b)
    assert (a[0] - a[1]).abs().max() > 1e-3
    # a seed gives the same image whatever else is in the batch (up to float summation order)
    assert torch.allclose(sketch_to_images(model, sketch, [1])[0], a[1], atol=1e-5)
    mean = sketch_to_images(model, sketch, [0, 5], use_mean=True)
    assert torch.equal(mean[0], mean[1])


def test_weights_written_like_a_run_load_through_the_core(tmp_path, vae_plugins):
    module = tiny_module("svae", seed=3)
    run = write_run(tmp_path / "run", module, sketch_method="sobel")
    loaded = genedit_core.load("svae", weights=str(run), device="cpu")
    assert loaded.hyperparameters["sketch_method"] == "sobel"
    assert loaded.hyperparameters["cond_channels"] == 1
    for k, v in module.state_dict().items():
        assert torch.equal(loaded.module.state_dict()[k], v)
    with pytest.raises(genedit_core.errors.WeightsError, match="--model svae"):
        genedit_core.load("vae", weights=str(run), device="cpu")


def test_probe_prefers_one_factor_per_dimension():
    g = torch.Generator().manual_seed(0)
    factors = torch.rand(2000, 3, generator=g)
    aligned = torch.cat([factors[:, [2, 0, 1]], torch.randn(2000, 2, generator=g)], 1) + 0.01 * torch.randn(
        2000, 5, generator=g
    )
    rot = torch.linalg.qr(torch.randn(5, 5, generator=g)).Q
    mixed = aligned @ rot
    good = disentanglement_score(aligned, factors, ("a", "b", "c"))
    bad = disentanglement_score(mixed, factors, ("a", "b", "c"))
    assert good["score"] > 0.99 and good["factors"]["a"]["best_dim"] == 1
    assert bad["score"] < good["score"] - 0.2
    assert bad["mean_full_r2"] > 0.99  # the information is still all there, just not axis-aligned


def test_python_api_matches_the_task_functions(tmp_path, vae_plugins):
    from genedit_vae import api
    from PIL import Image

    run = write_run(tmp_path / "run", lively(tiny_module("beta-vae", seed=4)))
    model = genedit_core.load("beta-vae", weights=str(run), device="cpu")
    photo = Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8))
    rec = api.reconstruct(model, photo)
    assert isinstance(rec, Image.Image) and rec.size == (16, 16)
    frames = api.interpolate(model, photo, photo.transpose(Image.FLIP_LEFT_RIGHT), steps=3)
    assert len(frames) == 3 and np.array_equal(np.asarray(frames[0]), np.asarray(rec))
    assert api.generate(model, [0, 1]).shape == (2, 3, 16, 16)
    assert torch.allclose(api.generate(model, [1]), api.generate(model, [0, 1])[1:], atol=1e-5)
    assert api.traverse(model, photo, dims=[0, 1], steps=3).size == (3 * 18 + 2, 2 * 18 + 2)
