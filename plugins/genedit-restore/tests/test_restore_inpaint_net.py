"""The gated-convolution U-Net: known pixels pass through, odd sizes work, and a two-step training
run loads back and fills a --mask hole from the CLI."""

from __future__ import annotations

import numpy as np
import pytest
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


@pytest.mark.parametrize("coarse", ["biharmonic", "blend"])
def test_training_two_steps_then_inpaint_from_the_cli(cli, tmp_path, coarse):
    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run"
    code, _, err = cli("train", "gated-unet", "--data", str(data), "--out", str(run), "--device", "cpu", "-q",
                       "--set", "model.features=2", "--set", "model.dilated=1", "--set", "train.steps=2",
                       "--set", "train.batch_size=2", "--set", "data.patch=32", "--set", "data.eval=null",
                       "--set", f"model.coarse={coarse}")  # fmt: skip
    assert code == 0, err
    import json

    assert json.loads((run / "config.json").read_text())["coarse"] == coarse
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


def test_hole_psnr_is_each_crops_psnr_over_its_own_hole():
    from genedit_restore.training import hole_psnr

    err = torch.zeros(2, 3, 4, 4)
    hole = torch.zeros(2, 1, 4, 4)
    hole[0, :, :2] = 1  # 8 hole pixels, error 0.1 there, 0.5 outside (not counted)
    err[0] = 0.5
    err[0, :, :2] = 0.1
    hole[1, :, 0, 0] = 1  # one hole pixel, error 0.01
    err[1, :, 0, 0] = 0.01
    got = hole_psnr(err, hole)
    expected = [-10 * np.log10(0.01 + 1e-5), -10 * np.log10(1e-4 + 1e-5)]
    assert got.tolist() == pytest.approx(expected, abs=1e-4)


def _train_inpaint(cli, tmp_path, name, *sets):
    data = tmp_path / "photos"
    if not data.exists():
        data.mkdir()
        rng = np.random.default_rng(0)
        for i in range(2):
            Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / name
    argv = ["train", "gated-unet", "--data", str(data), "--out", str(run), "--device", "cpu", "-q"]
    for s in ("model.features=2", "model.dilated=1", "train.batch_size=2", "data.patch=32", "data.eval=null",
              "train.ckpt_every=1", *sets):  # fmt: skip
        argv += ["--set", s]
    code, _, err = cli(*argv)
    assert code == 0, err
    return run


def test_psnr_loss_and_weight_average_train_and_export_the_average(cli, tmp_path):
    from safetensors.torch import load_file

    run = _train_inpaint(
        cli, tmp_path, "ema", "loss.type=psnr", "ema.decay=0.5", "train.steps=3", "train.lr=0.05"
    )
    nets = load_file(run / "checkpoints" / "step-000003" / "nets.safetensors")
    exported = load_file(run / "model.safetensors")
    key = "out.weight"
    assert not torch.equal(nets[f"model/{key}"], nets[f"model_ema/{key}"])  # lr 0.05 moved the live weights
    assert torch.equal(exported[key], nets[f"model_ema/{key}"])  # the average is what ships
    assert exported[key].abs().sum() > 0  # and it moved away from the zero start
    code, _, err = cli("train", "gated-unet", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "bad"),
                       "--device", "cpu", "-q", "--set", "ema.decay=1", "--set", "data.eval=null")  # fmt: skip
    assert code == 2 and "ema.decay" in err


def _body_gradient(out_init: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(out.weight, the first layer's gradient) after one backward pass of a fresh network."""
    from genedit_restore.layouts import make_module

    torch.manual_seed(0)
    net = make_module("gated-unet", {"features": 4, "dilated": 1, "out_init": out_init})
    x = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 32, 32), 5, 1, 2)
    hole = torch.zeros(2, 1, 32, 32)
    hole[..., 8:24, 10:20] = 1
    ((net(x, hole) - x).square() * hole).mean().backward()
    return net.out.weight.detach(), net.enc0.feature.weight.grad


def test_out_init_gives_the_unet_body_a_gradient_from_the_first_step():
    weight, grad = _body_gradient(0.0)
    assert torch.count_nonzero(weight) == 0  # a zero start...
    assert torch.count_nonzero(grad) == 0  # ...passes the body no gradient at all
    weight, grad = _body_gradient(0.05)
    assert 0.03 < float(weight.std()) < 0.07
    assert grad.abs().sum() > 0


def test_out_init_is_a_typed_option_kept_in_the_exported_config(cli, tmp_path):
    import json

    from safetensors.torch import load_file

    run = _train_inpaint(cli, tmp_path, "init", "model.out_init=0.5", "train.steps=1", "train.lr=1e-6")
    assert json.loads((run / "config.json").read_text())["out_init"] == 0.5
    weight = load_file(run / "model.safetensors")[
        "out.weight"
    ]  # 72 draws of N(0, 0.5) (a blend network's 4 rows), moved by 1e-6
    assert 0.3 < float(weight.float().std()) < 0.7
    code, _, err = cli("train", "gated-unet", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "bad"),
                       "--device", "cpu", "-q", "--set", "model.out_init=-1", "--set", "data.eval=null")  # fmt: skip
    assert code == 2 and "out_init" in err
    code, _, err = cli("train", "gated-unet", "--data", str(tmp_path / "photos"), "--out", str(tmp_path / "bad2"),
                       "--device", "cpu", "-q", "--set", "model.coarse=biharmonic", "--set", "model.global_gate=true",
                       "--set", "data.eval=null")  # fmt: skip
    assert code == 2 and "global_gate needs coarse='blend'" in err and "unexpected" not in err
