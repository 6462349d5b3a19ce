"""The paints colouriser: network shapes, loading, the colorize command's inputs and errors, and a
tiny training run through genedit's trainer."""

import json

import numpy as np
import pytest
import torch
from genedit_colorize.network import PaintsUNet
from genedit_colorize.tasks import is_colour
from PIL import Image


def sketch(tmp_path, size=(30, 22)):
    """A grey line drawing (a black rectangle outline on white) saved as PNG, W×H = ``size``."""
    w, h = size
    arr = np.full((h, w), 255, np.uint8)
    arr[4, 4:20] = arr[16, 4:20] = 0
    arr[4:17, 4] = arr[4:17, 19] = 0
    path = tmp_path / "sketch.png"
    Image.fromarray(arr).save(path)
    return path, arr


def hints_png(tmp_path, size=(30, 22), name="hints.png"):
    w, h = size
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[h // 2, w // 3] = (220, 40, 40, 255)
    path = tmp_path / name
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def test_any_size_in_gives_the_same_size_out_in_0_1():
    net = PaintsUNet(features=2)
    for h, w in ((17, 23), (8, 8), (33, 5)):
        with torch.no_grad():
            y = net(torch.rand(2, 1, h, w), torch.rand(2, 3, h, w), torch.zeros(2, 1, h, w))
        assert y.shape == (2, 3, h, w) and float(y.min()) >= 0 and float(y.max()) <= 1


def test_colorize_runs_the_network_with_the_hints(cli, tmp_path, weights):
    folder, net = weights
    src, arr = sketch(tmp_path)
    hints = hints_png(tmp_path)
    out = tmp_path / "out.png"
    code, _, err = cli("run", "colorize", "-m", "paints", "--weights", str(folder), str(src),
                       "--hints", str(hints), "-o", str(out))  # fmt: skip
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "RGB" and im.size == (30, 22)
        got = np.asarray(im).astype(np.float64)
    line = torch.from_numpy(arr / 255.0).float()[None, None]
    colours, mask = torch.zeros(1, 3, 22, 30), torch.zeros(1, 1, 22, 30)
    colours[0, :, 11, 10] = torch.tensor([220, 40, 40]) / 255.0
    mask[0, 0, 11, 10] = 1
    with torch.no_grad():
        want = net(line, colours, mask)[0].permute(1, 2, 0).numpy() * 255
        without = net(line, torch.zeros_like(colours), torch.zeros_like(mask))[0].permute(1, 2, 0).numpy()
    assert np.abs(got - want).max() <= 1.0
    assert np.abs(got - without * 255).max() > 1e-3  # the hint reached the network


def test_hints_of_another_size_and_opaque_hints_are_refused(cli, tmp_path, weights):
    folder, _ = weights
    src, _ = sketch(tmp_path)
    small = hints_png(tmp_path, size=(10, 10), name="small.png")
    code, _, err = cli("run", "colorize", "-m", "paints", "--weights", str(folder), str(src),
                       "--hints", str(small), "-o", str(tmp_path / "o.png"))  # fmt: skip
    assert code != 0 and "10×10" in err and "30×22" in err and "Traceback" not in err
    opaque = tmp_path / "opaque.png"
    Image.fromarray(np.zeros((22, 30, 3), np.uint8)).save(opaque)
    code, _, err = cli("run", "colorize", "-m", "paints", "--weights", str(folder), str(src),
                       "--hints", str(opaque), "-o", str(tmp_path / "o.png"))  # fmt: skip
    assert code != 0 and "transparency" in err and "Traceback" not in err


def test_a_colour_image_is_turned_into_line_art_with_a_warning(cli, tmp_path, weights):
    folder, _ = weights
    rgb = np.zeros((22, 30, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[:, 15:, 2] = 180
    src = tmp_path / "photo.png"
    Image.fromarray(rgb).save(src)
    assert is_colour(torch.from_numpy(rgb.transpose(2, 0, 1) / 255.0)[None].float())
    code, _, err = cli("run", "colorize", "-m", "paints", "--weights", str(folder), str(src),
                       "-o", str(tmp_path / "o.png"))  # fmt: skip
    assert code == 0, err
    assert "turned into line art" in err


def test_tiny_training_run_writes_loadable_weights(cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(
        "train", "paints", "--data", "builtin:skimage-photos", "--out", str(out),
        "--set", "train.steps=3", "--set", "train.batch_size=2", "--set", "model.features=2",
        "--set", "data.patch=16", "--set", "data.epoch_length=6", "--set", "data.eval_max_side=32",
        "--set", "train.eval_every=3", "--set", "train.log_every=1",
    )  # fmt: skip
    assert code == 0, err
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("eval" in e and e["eval"]["psnr"] > 0 for e in evals)
    src, _ = sketch(tmp_path)
    code, _, err = cli("run", "colorize", "-m", "paints", "--weights", str(out), str(src),
                       "-o", str(tmp_path / "c.png"))  # fmt: skip
    assert code == 0, err


def test_tiny_guided_deeper_training_run_loads_with_its_shape(cli, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(
        "train", "paints", "--data", "builtin:skimage-photos", "--out", str(out),
        "--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "model.features=2",
        "--set", "model.levels=3", "--set", "model.guided=true", "--set", "train.loss=psnr",
        "--set", "data.patch=16", "--set", "data.epoch_length=4", "--set", "data.eval=",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "config.json").read_text())["levels"] == 3
    import genedit_core

    net = genedit_core.load("paints", weights=str(out), device="cpu").module
    assert (net.levels, net.guided) == (3, True)
    code, _, err = cli(
        "train", "paints", "--data", "builtin:skimage-photos", "--out", str(tmp_path / "bad"),
        "--set", "model.levels=3", "--set", "data.patch=20", "--set", "train.steps=1",
    )  # fmt: skip
    assert code != 0 and "multiple of 8" in err


def test_bundled_weights_load_and_colour_with_hints(cli, tmp_path):
    src, _ = sketch(tmp_path)
    hints = hints_png(tmp_path)
    out = tmp_path / "bundled.png"
    code, _, err = cli("run", "colorize", "-m", "paints", str(src), "--hints", str(hints), "-o", str(out))
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "RGB" and im.size == (30, 22)


def _boxed(h=24, w=32):
    """A line drawing with a closed box (rows 6-17, cols 8-23) on white paper, 1×1×H×W."""
    line = torch.ones(1, 1, h, w)
    line[..., 6, 8:24] = line[..., 17, 8:24] = 0
    line[..., 6:18, 8] = line[..., 6:18, 23] = 0
    return line


def test_guide_maps_fill_hinted_regions_and_mark_the_border_region():
    from genedit_colorize.network import guide_maps

    line = _boxed()[0, 0].numpy()
    colours, mask = np.zeros((3, 24, 32)), np.zeros((24, 32))
    colours[:, 10, 12] = (0.8, 0.2, 0.1)  # inside the box
    mask[10, 12] = 1
    g = guide_maps(line, colours, mask)
    assert g.shape == (5, 24, 32)
    assert np.allclose(g[:3, 12, 15], (0.8, 0.2, 0.1)) and g[3, 12, 15] == 1  # the box took the hint
    assert np.allclose(g[:3, 1, 1], 1.0) and g[3, 1, 1] == 0  # the outside did not
    assert g[4, 1, 1] == 1 and g[4, 12, 15] == 0  # the outside touches the border, the box does not
    assert g[4, 6, 10] == 0 and g[3, 6, 10] == 0  # a line pixel belongs to no region


def test_an_untrained_guided_network_is_the_enclosed_fill_and_keeps_the_lines():
    from genedit_colorize.flat import flat_fill

    line = _boxed()
    colours, mask = torch.zeros(1, 3, 24, 32), torch.zeros(1, 1, 24, 32)
    colours[0, :, 10, 12] = torch.tensor([0.8, 0.2, 0.1])
    mask[0, 0, 10, 12] = 1
    colours[0, :, 2, 2] = torch.tensor([0.1, 0.9, 0.1])  # outside, in the region touching the border
    mask[0, 0, 2, 2] = 1
    net = PaintsUNet(features=2, levels=3, guided=True)
    with torch.no_grad():
        y = net(line, colours, mask)[0]
    flat = flat_fill(line[0, 0].double().numpy(), colours[0].double().numpy(), mask[0, 0].double().numpy())
    assert y.shape == (3, 24, 32)
    # the zero-initialised head leaves the fill inside the box and paper where the region touches
    # the border, where the flat fill has the green
    inside = (slice(None), slice(7, 17), slice(9, 23))
    assert np.abs(y.numpy()[inside] - flat[inside]).max() < 1e-6
    assert np.allclose(flat[:, 1, 1], (0.1, 0.9, 0.1)) and np.allclose(y[:, 1, 1].numpy(), 1.0)
    assert float(y[:, 6, 8:24].abs().max()) == 0.0  # black lines stay black whatever the colour


def test_from_state_reads_depth_and_head_from_the_tensors():
    from genedit_colorize.network import from_state

    from genedit_core.sdk import WeightsError

    for levels, guided in ((2, False), (3, True), (4, True)):
        net = from_state(PaintsUNet(features=3, levels=levels, guided=guided).state_dict(), "t")
        assert (net.features, net.levels, net.guided) == (3, levels, guided)
    state = PaintsUNet(features=3).state_dict()
    state["enc1.0.weight"] = torch.zeros(3, 7, 3, 3)
    with pytest.raises(WeightsError, match="5 or 10 input channels"):
        from_state(state, "bad.safetensors")


def test_a_guided_network_refuses_to_be_traced():
    net = PaintsUNet(features=2, levels=2, guided=True)
    args = (_boxed(), torch.zeros(1, 3, 24, 32), torch.zeros(1, 1, 24, 32))
    with pytest.raises(RuntimeError, match="cannot be traced"):
        torch.jit.trace(net, args)


def test_psnr_loss_is_minus_the_mean_psnr_of_the_images():
    from genedit_colorize.training import psnr_loss

    from genedit_core.sdk import psnr

    target = torch.rand(3, 3, 8, 8)
    out = (target + 0.1 * torch.randn(3, 3, 8, 8)).clamp(0, 1)
    want = np.mean([psnr(o.numpy(), t.numpy(), data_range=1.0) for o, t in zip(out, target)])
    assert float(psnr_loss(out, target, floor=0.0)) == pytest.approx(-want, abs=1e-3)
    assert float(psnr_loss(target, target)) == pytest.approx(-40.0)  # a perfect image counts 40 dB
