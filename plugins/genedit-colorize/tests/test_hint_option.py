"""``genedit run colorize --hint X,Y,#rrggbb`` (repeatable), ``--no-hints``, and their bad inputs."""

import numpy as np
import pytest
import torch
from genedit_colorize.hints import POINT_SIZE, paint_hints, parse_hint
from PIL import Image
from test_paints import hints_png, sketch


def run(cli, folder, src, out, *extra):
    return cli("run", "colorize", "-m", "paints", "--weights", str(folder), str(src), "-o", str(out), *extra)


def test_parse_hint_reads_x_y_and_hex_colours():
    assert parse_hint("120,80,#d03030") == (120, 80, (0xD0 / 255, 0x30 / 255, 0x30 / 255))
    assert parse_hint(" 3, 4, #0f0 ") == (3, 4, (0.0, 1.0, 0.0))


def test_paint_hints_draws_clipped_squares():
    colours, mask = torch.zeros(3, 10, 12), torch.zeros(1, 10, 12)
    paint_hints(colours, mask, [(0, 0, (1.0, 0.0, 0.0)), (6, 5, (0.0, 0.0, 1.0))])
    r = POINT_SIZE // 2
    assert int(mask.sum()) == (r + 1) ** 2 + POINT_SIZE**2  # the corner one is clipped
    assert colours[:, 5, 6].tolist() == [0.0, 0.0, 1.0] and colours[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert mask[0, 5, 6 + r + 1] == 0 and colours[:, 9, 0].abs().sum() == 0


def test_repeated_hints_all_reach_the_network(cli, tmp_path, weights):
    folder, net = weights
    src, arr = sketch(tmp_path)
    out = tmp_path / "out.png"
    code, _, err = run(cli, folder, src, out, "--hint", "10,11,#dc2828", "--hint", "25,3,#3050c0")
    assert code == 0, err
    with Image.open(out) as im:
        got = np.asarray(im).astype(np.float64)
    line = torch.from_numpy(arr / 255.0).float()[None, None]
    colours, mask = torch.zeros(3, 22, 30), torch.zeros(1, 22, 30)
    one = [(10, 11, (0xDC / 255, 0x28 / 255, 0x28 / 255))]
    paint_hints(colours, mask, [*one, (25, 3, (0x30 / 255, 0x50 / 255, 0xC0 / 255))])
    c1, m1 = torch.zeros(3, 22, 30), torch.zeros(1, 22, 30)
    paint_hints(c1, m1, one)
    with torch.no_grad():
        want = net(line, colours[None], mask[None])[0].permute(1, 2, 0).numpy() * 255
        first_only = net(line, c1[None], m1[None])[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(got - want).max() <= 1.0
    assert np.abs(got - first_only).max() > 1e-3  # the second --hint counted, not only the first


def test_no_hints_is_automatic_colouring_and_refuses_hints(cli, tmp_path, weights):
    folder, _ = weights
    src, _ = sketch(tmp_path)
    code, _, err = run(cli, folder, src, tmp_path / "a.png", "--no-hints")
    assert code == 0, err
    out = tmp_path / "b.png"
    code, _, err = run(cli, folder, src, out, "--hint", "1,1,#ffffff", "--no-hints")
    assert code != 0 and "--no-hints" in err and "Traceback" not in err and not out.exists()


@pytest.mark.parametrize(
    "hint, message",
    [
        ("30,5,#d03030", "--hint 30,5,#d03030: the point (30, 5) is outside the sketch, which is 30×22"),
        ("-1,5,#d03030", "is outside the sketch"),
        ("3,5,#zz3030", "--hint 3,5,#zz3030: '#zz3030' is not a colour; write it as #rrggbb"),
        ("3,5,red", "'red' is not a colour"),
        ("3,5", "--hint 3,5: expected X,Y,#rrggbb"),
        ("a,5,#d03030", "X and Y must be whole pixel numbers"),
    ],
)
def test_a_bad_hint_is_one_line_and_writes_nothing(cli, tmp_path, weights, hint, message):
    folder, _ = weights
    src, _ = sketch(tmp_path)
    out = tmp_path / "o.png"
    code, _, err = run(cli, folder, src, out, "--hint", "2,2,#000000", "--hint", hint)
    assert code != 0 and message in err, err
    assert "Traceback" not in err and not out.exists()


def test_hints_image_and_points_combine(cli, tmp_path, weights):
    folder, _ = weights
    src, _ = sketch(tmp_path)
    hints = hints_png(tmp_path)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run(cli, folder, src, a, "--hints", str(hints))[0] == 0
    assert run(cli, folder, src, b, "--hints", str(hints), "--hint", "25,3,#3050c0")[0] == 0
    with Image.open(a) as ia, Image.open(b) as ib:
        assert np.abs(np.asarray(ia).astype(int) - np.asarray(ib).astype(int)).max() > 0
