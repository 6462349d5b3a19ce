"""Every GAN at a tiny size: shapes, value ranges, seeds, truncation, interpolation, style mixing."""

from __future__ import annotations

import pytest
import torch
from genedit_gan.sampling import generate_images

import genedit_core
from genedit_core.errors import UsageError

NAMES = ["gan", "dcgan", "biggan", "stylegan2"]
SHAPES = {"gan": (1, 8, 8), "dcgan": (1, 16, 16), "biggan": (3, 16, 16), "stylegan2": (3, 16, 16)}


def _load(name, tiny_run, **extra):
    run, _ = tiny_run(name, extra or None)
    return genedit_core.load(name, weights=str(run), device="cpu", dtype="fp32")


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_range(gan_plugins, tiny_run, name):
    model = _load(name, tiny_run)
    out = generate_images(model, [0, 1, 2], {})
    assert out.shape == (3, *SHAPES[name])
    assert out.dtype == torch.float32
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert float(out.std()) > 1e-3  # not a constant image


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_image_whatever_the_batch(gan_plugins, tiny_run, name):
    model = _load(name, tiny_run)
    a = generate_images(model, [5, 7], {})
    b = generate_images(model, [7], {})
    c = generate_images(model, [5, 7], {})
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    torch.testing.assert_close(a[1], b[0], rtol=1e-5, atol=1e-6)
    assert (a[0] - a[1]).abs().max() > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_truncation_zero_gives_the_mean_image(gan_plugins, tiny_run, name):
    model = _load(name, tiny_run)
    params = {"truncation": 0.0, "class": "1"} if name == "biggan" else {"truncation": 0.0}
    out = generate_images(model, [0, 1, 2], params)
    torch.testing.assert_close(out[0], out[1])
    torch.testing.assert_close(out[0], out[2])
    m = model.module
    with torch.no_grad():
        if name == "stylegan2":
            ws = m.broadcast(m.latent_avg[None])
            mean = m.synthesis(ws, m.noise_inputs(1, "const", None, "cpu"))
        elif name == "biggan":
            mean = m(torch.zeros(1, m.z_dim), torch.tensor([1]), 0.0)
        else:
            mean = m(torch.zeros(1, m.nz))
    torch.testing.assert_close(out[0], ((mean[0] + 1) / 2).clamp(0, 1), rtol=1e-5, atol=1e-6)
    full = generate_images(model, [0, 1], {"truncation": 1.0, "class": "1"} if name == "biggan" else {})
    assert (full[0] - full[1]).abs().max() > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_interpolation_frames_run_from_seed_a_to_seed_b(gan_plugins, tiny_run, name):
    model = _load(name, tiny_run)
    frames = generate_images(model, [3, 9], {"interpolate": (3, 9), "steps": 5})
    assert frames.shape[0] == 5
    ends = generate_images(model, [3, 9], {} if name != "biggan" else {"class": None})
    torch.testing.assert_close(frames[0], ends[0], rtol=1e-4, atol=1e-5)
    if name != "biggan":  # BigGAN keeps seed A's class along the path
        torch.testing.assert_close(frames[-1], ends[1], rtol=1e-4, atol=1e-5)
    steps = (frames[1:] - frames[:-1]).abs().mean((1, 2, 3))
    assert float(steps.min()) > 0


def test_stylegan2_style_mixing_takes_coarse_styles_from_one_seed_and_fine_from_the_other(
    gan_plugins, tiny_run
):
    model = _load("stylegan2", tiny_run)
    plain = generate_images(model, [1], {})
    mixed = generate_images(model, [1], {"style_mix": 4, "mix_layer": 2})
    other = generate_images(model, [4], {})
    assert (mixed - plain).abs().max() > 1e-4
    assert (mixed - other).abs().max() > 1e-4
    g = model.module
    with torch.no_grad():
        w = lambda s: g.mapping(torch.randn(1, 8, generator=torch.Generator().manual_seed(s)))  # noqa: E731
        ws = torch.cat([w(1)[:, None].repeat(1, 2, 1), w(4)[:, None].repeat(1, g.n_latent - 2, 1)], 1)
        ref = g.synthesis(ws, g.noise_inputs(1, "const", None, "cpu"))
    torch.testing.assert_close(mixed[0], ((ref[0] + 1) / 2).clamp(0, 1), rtol=1e-5, atol=1e-6)


def test_stylegan2_noise_modes(gan_plugins, tiny_run):
    model = _load("stylegan2", tiny_run)
    const = generate_images(model, [2], {})
    rand_a = generate_images(model, [2], {"noise": "random"})
    rand_b = generate_images(model, [2], {"noise": "random"})
    torch.testing.assert_close(rand_a, rand_b)
    assert (const - rand_a).abs().max() > 1e-5
    with pytest.raises(UsageError, match="--noise"):
        generate_images(model, [2], {"noise": "loud"})


def test_biggan_class_by_index_and_name_and_errors(gan_plugins, tiny_run):
    model = _load("biggan", tiny_run, class_names=["cat", "dog", "fox"])
    by_name = generate_images(model, [0, 1], {"class": "dog"})
    by_index = generate_images(model, [0, 1], {"class": "1"})
    torch.testing.assert_close(by_name, by_index)
    other = generate_images(model, [0, 1], {"class": "2"})
    assert (other - by_index).abs().max() > 1e-4
    with pytest.raises(UsageError, match="unknown class"):
        generate_images(model, [0], {"class": "wolf"})
    with pytest.raises(UsageError, match="0..2"):
        generate_images(model, [0], {"class": "7"})


def test_options_a_model_cannot_honour_are_refused(gan_plugins, tiny_run):
    model = _load("dcgan", tiny_run)
    with pytest.raises(UsageError, match="not class-conditional"):
        generate_images(model, [0], {"class": "3"})
    with pytest.raises(UsageError, match="style-mix"):
        generate_images(model, [0], {"style_mix": 3})
    with pytest.raises(UsageError, match="truncation"):
        generate_images(model, [0], {"truncation": 1.5})


def test_python_api_generate(gan_plugins, tiny_run):
    model = _load("dcgan", tiny_run)
    imgs = model.generate(seeds=[0, 1])
    assert imgs.shape == (2, 1, 16, 16)
    torch.testing.assert_close(imgs, generate_images(model, [0, 1], {}))


def test_full_size_configs_match_the_published_architectures():
    from genedit_gan._arch.biggan import BigGAN
    from genedit_gan._arch.dcgan import DCGANGenerator
    from genedit_gan._arch.stylegan2 import channel_list

    g = DCGANGenerator()  # nz 100, ngf 64, 64×64
    keys = [k for k in g.state_dict() if k.endswith("weight") and g.state_dict()[k].ndim == 4]
    assert keys == ["main.0.weight", "main.3.weight", "main.6.weight", "main.9.weight", "main.12.weight"]
    assert tuple(g.state_dict()["main.0.weight"].shape) == (100, 512, 4, 4)
    assert g(torch.zeros(1, 100)).shape == (1, 3, 64, 64)
    assert channel_list(1024) == [512, 512, 512, 512, 512, 256, 128, 64, 32]
    from genedit_gan._arch.common import no_init

    with no_init():
        b = BigGAN()  # BigGAN-deep-128
    assert b.size == 128
    assert tuple(b.generator.gen_z.weight_orig.shape) == (4 * 4 * 16 * 128, 256)
    assert tuple(b.generator.layers[8].snconv1x1_theta.weight_orig.shape) == (32, 256, 1, 1)
    assert tuple(b.generator.layers[0].bn_0.running_means.shape) == (51, 2048)
    assert tuple(b.generator.conv_to_rgb.weight_orig.shape) == (128, 128, 3, 3)
