"""``genedit generate`` and ``genedit run generate`` end to end in a subprocess; the ``generate`` metric."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from gan_testutil import tiny_module, write_run
from PIL import Image


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GENEDIT_LOAD_PLUGINS": "gan",
        "NO_COLOR": "1",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.fixture
def dcgan_run(tmp_path):
    m = tiny_module("dcgan")
    return write_run(tmp_path / "run", m, {"genedit_task": "dcgan", "arch": {"nc": 1, "size": 16}})


def test_generate_seeds_grid_interpolation_and_gif(tmp_path, dcgan_run):
    out = tmp_path / "out"
    r = _run("generate", "dcgan", "--weights", str(dcgan_run), "--seeds", "0-3,9", "--grid", "--out-dir", str(out),
             "--device", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "grid.png",
        "seed0000.png",
        "seed0001.png",
        "seed0002.png",
        "seed0003.png",
        "seed0009.png",
    ]
    img = Image.open(out / "seed0002.png")
    assert img.size == (16, 16)
    grid = Image.open(out / "grid.png")
    assert grid.size == (3 * 18 + 2, 2 * 18 + 2)  # 5 tiles in a 3×2 grid with 2-px borders
    a, b = np.asarray(Image.open(out / "seed0000.png")), np.asarray(Image.open(out / "seed0001.png"))
    assert np.abs(a.astype(int) - b.astype(int)).max() > 0

    frames = tmp_path / "frames"
    r = _run("run", "generate", "--model", "dcgan", "--weights", str(dcgan_run), "--interpolate", "0,9",
             "--steps", "4", "--gif", "--out-dir", str(frames), "--device", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in frames.iterdir()) == [
        "frame000.png",
        "frame001.png",
        "frame002.png",
        "frame003.png",
        "grid.png",
        "interpolation.gif",
    ]
    gif = Image.open(frames / "interpolation.gif")
    assert gif.size == (16, 16) and gif.n_frames == 6  # forwards then back: 4 + 2
    # the interpolation starts at seed 0's image
    first = np.asarray(Image.open(frames / "frame000.png"))
    np.testing.assert_array_equal(first, a)


def test_generate_metric_reports_fid_is_and_the_real_floor(gan_plugins, tiny_run):
    from genedit_gan.evaluation import evaluate_generator

    import genedit_core

    run, _ = tiny_run("dcgan")
    model = genedit_core.load("dcgan", weights=str(run), device="cpu", dtype="fp32")
    report = evaluate_generator(model, "builtin:digits", {"samples": 300})
    rows = {r["image"]: r for r in report["rows"]}
    real = rows["real held-out (297)"]
    fake = rows["generated (300)"]
    assert real["is"] > 8.0 and real["min_class_pct"] > 5.0  # the classifier reads real digits
    assert fake["fid"] > 3 * real["fid"]  # an untrained generator is far from the data
    assert fake["is"] < real["is"]
    assert len(fake["histogram"]) == 10 and abs(sum(fake["histogram"]) - 1) < 1e-6
    assert report["summary"]["fid"] == fake["fid"]
