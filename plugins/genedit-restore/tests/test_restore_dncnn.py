"""DnCNN: every published layout loads and matches an independent reference forward written here
with the literal key names (not our module), grey and colour, with and without batch norm."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genedit_core.sdk import WeightsError


def _conv(sd, name, o, i, bias=True, g=None):
    sd[f"{name}.weight"] = torch.randn(o, i, 3, 3, generator=g) / math.sqrt(9 * i)
    if bias:
        sd[f"{name}.bias"] = torch.randn(o, generator=g) * 0.05


def _bn(sd, name, c, g):
    sd[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.bias"] = 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=g)
    sd[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=g)
    sd[f"{name}.num_batches_tracked"] = torch.tensor(7)


def kair_folded(c, nc, depth, seed=0):
    """KAIR's released files: model.0, model.2, ..., model.2(D-1), all with bias."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i in range(depth):
        _conv(sd, f"model.{2 * i}", c if i == depth - 1 else nc, c if i == 0 else nc, g=g)
    return sd


def kair_bn(c, nc, depth, seed=0):
    """KAIR before merging BN: model.0 conv, then conv model.2+3i / BN model.3+3i, last model.2+3(D-2)."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    _conv(sd, "model.0", nc, c, g=g)
    for i in range(depth - 2):
        _conv(sd, f"model.{2 + 3 * i}", nc, nc, g=g)
        _bn(sd, f"model.{3 + 3 * i}", nc, g)
    _conv(sd, f"model.{2 + 3 * (depth - 2)}", c, nc, g=g)
    return sd


def cszn(c, nc, depth, seed=0):
    """cszn/DnCNN PyTorch: dncnn.0 conv with bias; body convs and the last conv without bias; BN."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    _conv(sd, "dncnn.0", nc, c, g=g)
    for i in range(depth - 2):
        _conv(sd, f"dncnn.{2 + 3 * i}", nc, nc, bias=False, g=g)
        _bn(sd, f"dncnn.{3 + 3 * i}", nc, g)
    _conv(sd, f"dncnn.{2 + 3 * (depth - 2)}", c, nc, bias=False, g=g)
    return sd


def reference(sd, prefix, depth, bn, x):
    """x - noise, the noise computed layer by layer from the file's own key names."""
    h = F.relu(F.conv2d(x, sd[f"{prefix}.0.weight"], sd.get(f"{prefix}.0.bias"), padding=1))
    for i in range(depth - 2):
        if bn:
            c, b = f"{prefix}.{2 + 3 * i}", f"{prefix}.{3 + 3 * i}"
            h = F.conv2d(h, sd[f"{c}.weight"], sd.get(f"{c}.bias"), padding=1)
            h = F.batch_norm(h, sd[f"{b}.running_mean"], sd[f"{b}.running_var"], sd[f"{b}.weight"],
                             sd[f"{b}.bias"], training=False, eps=1e-4)  # fmt: skip
            h = F.relu(h)
        else:
            c = f"{prefix}.{2 * (i + 1)}"
            h = F.relu(F.conv2d(h, sd[f"{c}.weight"], sd[f"{c}.bias"], padding=1))
    last = f"{prefix}.{2 + 3 * (depth - 2)}" if bn else f"{prefix}.{2 * (depth - 1)}"
    return x - F.conv2d(h, sd[f"{last}.weight"], sd.get(f"{last}.bias"), padding=1)


CASES = [
    ("dncnn-kair", kair_folded, "model", False),
    ("dncnn-kair-bn", kair_bn, "model", True),
    ("dncnn-cszn", cszn, "dncnn", True),
]


@pytest.mark.parametrize(("layout", "make", "prefix", "bn"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("channels", [1, 3])
def test_layouts_load_and_match_the_reference(restore_plugins, tmp_path, layout, make, prefix, bn, channels):
    from safetensors.torch import save_file

    import genedit_core

    depth, nc = 5, 8
    sd = make(channels, nc, depth)
    path = tmp_path / "w.safetensors"
    save_file(sd, path)
    model = genedit_core.load("dncnn", weights=str(path), device="cpu", dtype="fp32")
    hp = model.hyperparameters
    assert (hp["layout"], hp["channels"], hp["features"], hp["depth"], hp["bn"]) == (
        layout,
        channels,
        nc,
        depth,
        bn,
    )
    assert model.receptive_field == depth
    x = torch.rand(2, channels, 11, 13)
    with torch.no_grad():
        assert torch.allclose(model.module(x), reference(sd, prefix, depth, bn, x), atol=1e-5)


def test_a_grey_network_denoises_each_colour_channel(restore_plugins, tmp_path):
    from safetensors.torch import save_file

    import genedit_core

    sd = kair_folded(1, 4, 3)
    save_file(sd, tmp_path / "g.safetensors")
    model = genedit_core.load("dncnn", weights=str(tmp_path / "g.safetensors"), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 9, 9)
    with torch.no_grad():
        y = model(x)
    for c in range(3):
        assert torch.allclose(y[:, c : c + 1], reference(sd, "model", 3, False, x[:, c : c + 1]), atol=1e-5)


def test_wrong_weights_are_one_line_naming_the_file(restore_plugins, tmp_path):
    from safetensors.torch import save_file

    import genedit_core

    save_file({"body.0.weight": torch.zeros(4, 3, 3, 3)}, tmp_path / "other.safetensors")
    with pytest.raises(WeightsError, match=r"other\.safetensors: no dncnn checkpoint layout matches"):
        genedit_core.load("dncnn", weights=str(tmp_path / "other.safetensors"), device="cpu")
    sd = kair_folded(3, 4, 3)
    sd["model.2.weight"] = torch.zeros(4, 5, 3, 3)  # the middle conv takes 5 channels: mis-shaped
    save_file(sd, tmp_path / "bad.safetensors")
    with pytest.raises(WeightsError, match=r"bad\.safetensors"):
        genedit_core.load("dncnn", weights=str(tmp_path / "bad.safetensors"), device="cpu")


def test_training_two_steps_gives_weights_that_load(cli, tmp_path):
    import numpy as np
    from PIL import Image

    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    code, _, err = cli("train", "dncnn", "--data", str(data), "--out", str(run), "--device", "cpu",
                       "-q", "--set", "model.features=4", "--set", "model.depth=3", "--set", "train.steps=2",
                       "--set", "train.batch_size=2", "--set", "data.patch=16", "--set", "data.eval=null",
                       "--set", "data.sigma=25")  # fmt: skip
    assert code == 0, err
    import genedit_core

    model = genedit_core.load("dncnn", weights=str(run), device="cpu", dtype="fp32")
    assert model.hyperparameters["sigma"] == 25 and model.hyperparameters["depth"] == 3


def test_bundled_weights_load_offline_and_denoise(restore_plugins, photo):
    import numpy as np

    import genedit_core
    from genedit_core.sdk import psnr

    model = genedit_core.load("dncnn", device="cpu", dtype="fp32")
    assert model.weights.origin.startswith("dncnn:photos-blind (bundled")
    noisy = photo + np.random.default_rng(0).normal(0, 25 / 255, photo.shape)
    with torch.no_grad():
        out = model(torch.from_numpy(noisy.transpose(2, 0, 1)).float()[None]).clamp(0, 1)
    out = out[0].numpy().transpose(1, 2, 0)
    assert psnr(out, photo, 1.0) > psnr(np.clip(noisy, 0, 1), photo, 1.0) + 3


def test_bundled_fixed_sigma_variant_loads_and_denoises_its_sigma(restore_plugins, photo):
    """``photos-s25`` (shipped on the fresh split of scripts/select_restore_weights.py) loads by
    name beside the default, says its σ, and denoises σ = 25 differently from the blind model."""
    import numpy as np

    import genedit_core
    from genedit_core.sdk import psnr

    assert genedit_core.load("dncnn", device="cpu", dtype="fp32").weights.origin.startswith(
        "dncnn:photos-blind"
    )  # the blind model stays the default
    model = genedit_core.load("dncnn", weights="photos-s25", device="cpu", dtype="fp32")
    assert model.weights.origin.startswith("dncnn:photos-s25 (bundled")
    assert model.hyperparameters["sigma"] == 25 and model.hyperparameters["depth"] == 17
    blind = genedit_core.load("dncnn", device="cpu", dtype="fp32")
    noisy = photo + np.random.default_rng(3).normal(0, 25 / 255, photo.shape)
    x = torch.from_numpy(noisy.transpose(2, 0, 1)).float()[None]
    with torch.no_grad():
        out = model(x).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
        out_blind = blind(x).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    assert psnr(out, photo, 1.0) > psnr(np.clip(noisy, 0, 1), photo, 1.0) + 3
    assert np.abs(out - out_blind).max() > 1 / 255  # really other weights


def test_crops_sample_each_image_alike_or_by_area():
    from genedit_restore.training import Patches

    from genedit_core.sdk import UsageError

    images = [torch.zeros(3, 40, 40), torch.ones(3, 80, 160)]
    assert Patches(images, 16, 4, 3, "area").weights.tolist() == pytest.approx([1 / 9, 8 / 9])
    by_image = Patches(images, 16, 4, 3, "image")
    assert by_image.weights.tolist() == pytest.approx([0.5, 0.5])
    picks = [float(by_image.get(0, torch.Generator().manual_seed(i)).mean()) for i in range(200)]
    assert 60 < sum(picks) < 140  # about half the crops come from the small (all-zero) image
    with pytest.raises(UsageError, match="data.sample"):
        Patches(images, 16, 4, 3, "pixels")


def test_init_weights_start_a_run_from_an_earlier_one(cli, tmp_path):
    import numpy as np
    from PIL import Image
    from safetensors.torch import load_file

    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(data / f"{i}.png")
    common = ["--data", str(data), "--device", "cpu", "-q", "--set", "model.features=4",
              "--set", "model.depth=3", "--set", "train.steps=1", "--set", "train.batch_size=2",
              "--set", "data.patch=16", "--set", "data.eval=null", "--set", "data.sample=image"]  # fmt: skip
    code, _, err = cli("train", "dncnn", "--out", str(tmp_path / "a"), *common)
    assert code == 0, err
    first = tmp_path / "a" / "model.safetensors"
    # lr 0: the second run's weights are exactly the ones it started from
    code, _, err = cli("train", "dncnn", "--out", str(tmp_path / "b"), *common, "--set", "train.lr=0",
                       "--set", f"init.weights={first}", "--set", "train.seed=7")  # fmt: skip
    assert code == 0, err
    a, b = load_file(first), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # a file of another shape is one line naming it
    code, _, err = cli("train", "dncnn", "--out", str(tmp_path / "c"), *common,
                       "--set", "model.features=8", "--set", f"init.weights={first}")  # fmt: skip
    assert code != 0 and str(first) in err and "Traceback" not in err
