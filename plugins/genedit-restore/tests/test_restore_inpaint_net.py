"""The gated-convolution U-Net: known pixels pass through, odd sizes work, and a two-step training
run loads back and fills a --mask hole from the CLI."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def test_known_pixels_pass_through_and_odd_sizes_work():
    from genedit_restore._arch.gated_unet import GatedUNet

    torch.manual_seed(0)
    net = GatedUNet(features=4, dilated=1).eval()
    x = torch.rand(1, 3, 45, 37)
    hole = torch.zeros(1, 1, 45, 37)
    hole[..., 10:20, 5:25] = 1
    with torch.no_grad():
        y = net.fill(x, hole)
    assert y.shape == x.shape
    keep = hole.expand_as(x) == 0
    assert torch.equal(y[keep], x[keep])
    assert not torch.equal(y[~keep], x[~keep])  # the hole is the network's


def test_training_two_steps_then_inpaint_from_the_cli(cli, tmp_path):
    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    code, _, err = cli("train", "gated-unet", "--data", str(data), "--out", str(run), "--device", "cpu", "-q",
                       "--set", "model.features=2", "--set", "model.dilated=1", "--set", "train.steps=2",
                       "--set", "train.batch_size=2", "--set", "data.patch=32", "--set", "data.eval=null")  # fmt: skip
    assert code == 0, err
    rgb = rng.integers(0, 256, (30, 26, 3), dtype=np.uint8)
    mask = np.zeros((30, 26), np.uint8)
    mask[5:12, 4:20] = 255
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "m.png")
    code, _, err = cli("run", "inpaint", "-m", "gated-unet", "--weights", str(run), "--mask", str(tmp_path / "m.png"),
                       str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"))  # fmt: skip
    assert code == 0, err
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out[mask == 0], rgb[mask == 0])
    code, _, err = cli("run", "inpaint", "-m", "gated-unet", "--weights", str(run), "--mask", str(tmp_path / "m.png"),
                       "--radius", "3", str(tmp_path / "in.png"), "-o", str(tmp_path / "o2.png"))  # fmt: skip
    assert code == 2 and "--radius" in err  # an OpenCV option, not this model's
