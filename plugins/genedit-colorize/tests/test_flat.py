"""The weight-free colourisers: flat (regions take their hints' colour) and levin (a sparse solve);
lines stay dark in both."""

import numpy as np
from genedit_colorize.flat import flat_fill
from genedit_colorize.levin import levin_fill
from PIL import Image


def box(h: int = 20, w: int = 24) -> np.ndarray:
    """White paper with a closed black rectangle outline (rows 4-15, columns 4-19)."""
    line = np.ones((h, w))
    line[4, 4:20] = line[15, 4:20] = 0.0
    line[4:16, 4] = line[4:16, 19] = 0.0
    return line


def test_the_hinted_region_takes_the_hint_colour_and_the_rest_stays_white():
    line = box()
    colours, mask = np.zeros((3, 20, 24)), np.zeros((20, 24))
    colours[:, 8, 10] = (0.9, 0.1, 0.2)
    mask[8, 10] = 1
    out = flat_fill(line, colours, mask)
    assert np.allclose(out[:, 5:15, 5:19], np.array([0.9, 0.1, 0.2])[:, None, None])
    assert np.allclose(out[:, :3, :], 1.0) and np.allclose(out[:, :, 21:], 1.0)
    assert np.allclose(out[:, 4, 4:20], 0.0)  # the line itself stays black


def test_two_hints_in_one_region_average_and_no_hint_is_the_line_art():
    line = box()
    colours, mask = np.zeros((3, 20, 24)), np.zeros((20, 24))
    colours[:, 1, 1], colours[:, 18, 22] = (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)
    mask[1, 1] = mask[18, 22] = 1
    out = flat_fill(line, colours, mask)
    assert np.allclose(out[:, 0, 0], (0.5, 0.0, 0.5)) and np.allclose(out[:, 10, 10], 1.0)
    assert np.allclose(flat_fill(line, colours, np.zeros((20, 24))), line[None].repeat(3, 0))


def test_cli_flat_fills_from_a_hints_image(cli, tmp_path):
    src, hints, out = tmp_path / "s.png", tmp_path / "h.png", tmp_path / "o.png"
    Image.fromarray((box() * 255).astype(np.uint8)).save(src)
    rgba = np.zeros((20, 24, 4), np.uint8)
    rgba[8, 10] = (30, 80, 200, 255)
    Image.fromarray(rgba, "RGBA").save(hints)
    code, _, err = cli("run", "colorize", "-m", "flat", str(src), "--hints", str(hints), "-o", str(out))
    assert code == 0, err
    with Image.open(out) as im:
        arr = np.asarray(im.convert("RGB"))
    assert tuple(arr[10, 10]) == (30, 80, 200) and tuple(arr[0, 0]) == (255, 255, 255)


def test_levin_propagates_each_hint_inside_its_own_region():
    line = box()
    colours, mask = np.zeros((3, 20, 24)), np.zeros((20, 24))
    colours[:, 8, 10], colours[:, 1, 1] = (0.9, 0.1, 0.2), (0.0, 0.0, 1.0)
    mask[8, 10] = mask[1, 1] = 1
    out = levin_fill(line, colours, mask)
    assert np.abs(out[:, 12, 16] - (0.9, 0.1, 0.2)).max() < 0.05  # inside the box: the inner hint
    assert np.abs(out[:, 18, 22] - (0.0, 0.0, 1.0)).max() < 0.05  # outside: the outer one
    assert np.allclose(out[:, 4, 4:20], 0.0)
    assert np.allclose(levin_fill(line, colours, np.zeros((20, 24))), line[None].repeat(3, 0))


def test_eval_colorize_scores_hints_per_image(cli, tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    for i, colour in enumerate([(200, 30, 30), (40, 90, 210)]):
        Image.fromarray(np.full((32, 40, 3), colour, np.uint8)).save(folder / f"{i}.png")
    code, out, err = cli("eval", "colorize", "-m", "flat", "--data", str(folder), "--json")
    assert code == 0, err
    import json

    report = json.loads(out)
    assert report["columns"] == ["image", "psnr_0", "psnr_1", "psnr_5", "psnr_20"]
    assert len(report["rows"]) == 2
    # one flat colour, no lines: one region, so any hint paints all of it exactly; none leaves it white
    assert report["summary"]["psnr_1"] > report["summary"]["psnr_0"] + 20


def test_eval_colorize_takes_the_hint_counts_from_hints(cli, tmp_path):
    import json

    folder = tmp_path / "refs"
    folder.mkdir()
    Image.fromarray(np.full((32, 40, 3), (200, 30, 30), np.uint8)).save(folder / "0.png")
    code, out, err = cli("eval", "colorize", "-m", "flat", "--data", str(folder), "--hints", "3,0", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["columns"] == ["image", "psnr_3", "psnr_0"]
    assert "3/0 seeded simulated hints" in report["convention"]
    code, out, err = cli("eval", "colorize", "-m", "flat", "--data", str(folder), "--hints", "1,x")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--hints" in err
