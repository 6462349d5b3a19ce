"""builtin:clipart: SVG pairs (fills stripped / whole drawing), the split, the cache, skipped files,
untrusted SVGs, the missing-package line, and a tiny training run on it."""

import inspect
import json

import numpy as np
import pytest
from genedit_colorize import clipart
from genedit_colorize.clipart import ClipartPairs, line_art_svg, render_pair, split_files
from PIL import Image

from genedit_core.sdk import UsageError

BOX = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
    '<rect x="8" y="8" width="48" height="48" fill="{fill}" stroke="#2040a0" stroke-width="3"/></svg>'
)


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A small openclipart-like tree (20 boxes in two folders and one broken file), used as ROOT;
    by their paths' hashes food/box18.svg is the one held-out drawing and broken.svg is in train."""
    base = tmp_path / "openclipart"
    for i in range(20):
        folder = base / "svg" / ("animals" if i % 2 else "food")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"box{i}.svg").write_text(BOX.format(fill="#d03030"))
    (base / "svg" / "food" / "broken.svg").write_text("<svg><rect")
    monkeypatch.setattr(clipart, "ROOT", base)
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "cache"))
    return base


def test_line_art_strips_fills_and_keeps_strokes_black():
    target, line = render_pair(BOX.format(fill="#d03030").encode(), 32)
    assert target.shape == (32, 32, 3) and line.shape == (32, 32)
    assert tuple(target[16, 16]) == pytest.approx((0xD0, 0x30, 0x30), abs=2)  # the fill is in the target
    assert line[16, 16] > 250 and line.min() < 60  # ...not in the line art, whose stroke is dark
    assert b"fill:none" in line_art_svg(BOX.format(fill="#d03030").encode())


def test_a_dark_fill_stays_in_the_line_art_as_ink():
    _, line = render_pair(BOX.format(fill="#101010").encode(), 32)
    assert line[16, 16] < 30


def test_the_split_is_deterministic_disjoint_and_complete(root):
    train, held = split_files("train"), split_files("heldout")
    assert not set(train) & set(held) and len(train) + len(held) == 21
    assert split_files("train") == train and split_files("heldout") == held
    rel = sorted(f.relative_to(root).as_posix() for f in held)
    assert rel == sorted(
        r for r in (f.relative_to(root).as_posix() for f in root.rglob("*.svg")) if clipart.is_heldout(r)
    )


def test_pairs_are_cached_and_broken_svgs_skipped_and_counted(root, tmp_path):
    assert any(f.name == "broken.svg" for f in split_files("train"))  # by its path's hash
    pairs = ClipartPairs("train", 32)
    got = [pairs.pair(i) for i in range(len(pairs))]
    assert pairs.skipped == 1 and sum(p is None for p in got) == 1
    assert len(list((tmp_path / "cache" / "clipart" / "32").glob("*.png"))) == len(got) - 1
    idx = next(i for i, p in enumerate(got) if p is not None)
    pairs.files[idx].write_text("<not an svg")  # a second reader takes the cached pair, not the file
    twin = ClipartPairs("train", 32).pair(idx)
    assert twin is not None and all((a - b).abs().max() == 0 for a, b in zip(twin, got[idx]))


def test_untrusted_svgs_read_no_files_and_no_entities(tmp_path):
    from cairosvg.surface import PNGSurface

    assert inspect.signature(PNGSurface.convert).parameters["unsafe"].default is False
    red = tmp_path / "red.png"
    Image.fromarray(np.full((64, 64, 3), (255, 0, 0), np.uint8)).save(red)
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">'
        f'<image x="0" y="0" width="64" height="64" xlink:href="file://{red}"/>'
        '<rect x="8" y="8" width="48" height="48" fill="none" stroke="#000000" stroke-width="3"/></svg>'
    )
    target, _ = render_pair(svg.encode(), 32)
    assert not ((target[..., 0] > 200) & (target[..., 1] < 60)).any()  # the local file was not read
    entity = (
        f'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file://{red}">]>'
        '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><text>&x;</text></svg>'
    )
    with pytest.raises(Exception, match="(?i)entit"):
        render_pair(entity.encode(), 32)


def test_without_the_package_one_line_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(clipart, "ROOT", tmp_path / "nowhere")
    with pytest.raises(UsageError, match="apt-get install openclipart-svg"):
        ClipartPairs("train", 32)


def test_genedit_datasets_lists_clipart(cli):
    code, out, err = cli("datasets", "--json")
    assert code == 0, err
    names = {d["name"] for d in json.loads(out)}
    assert {"builtin:clipart", "builtin:clipart:heldout"} <= names


def test_tiny_training_run_on_clipart(cli, root, tmp_path):
    out = tmp_path / "run"
    code, _, err = cli(
        "train", "paints", "--data", "builtin:clipart", "--out", str(out),
        "--set", "train.steps=2", "--set", "train.batch_size=2", "--set", "model.features=2",
        "--set", "data.patch=16", "--set", "data.clipart_size=32", "--set", "data.epoch_length=4",
        "--set", "data.eval=builtin:clipart:heldout", "--set", "data.eval_max_side=32",
        "--set", "train.eval_every=2", "--set", "train.log_every=1",
    )  # fmt: skip
    assert code == 0, err
    evals = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("eval" in e and e["eval"]["psnr"] > 0 for e in evals)


def test_genedit_eval_colorize_scores_held_out_drawings(cli, root):
    code, out, err = cli("eval", "colorize", "-m", "flat", "--data", "builtin:clipart:heldout", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert len(result["rows"]) == 1 and "clipart drawings" in result["convention"]  # food/box18.svg
    # flat with a hint inside the red box fills it: far closer to the target than the bare line art
    assert result["summary"]["psnr_1"] > result["summary"]["psnr_0"] + 5
