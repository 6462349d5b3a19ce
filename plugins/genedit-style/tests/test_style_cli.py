"""``genedit run stylize -m gatys`` end to end, in one subprocess per command, on tiny images."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from genedit_core.images import read_provenance


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GENEDIT_LOAD_PLUGINS": "style", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_run_stylize_writes_the_result_and_names_the_feature_network(tmp_path):
    rng = np.random.default_rng(0)
    photo, painting = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.fromarray(rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)).save(photo)
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8), "L").save(painting)  # grey: a warning
    out = tmp_path / "out.png"
    r = _run("run", "stylize", "-m", "gatys", "--style", str(painting), str(photo), "-o", str(out),
             "--steps", "2", "--size", "24", "--device", "cpu", "-q")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "warning: style image" in r.stderr and "grey" in r.stderr
    assert Image.open(out).size == (24, 16)
    prov = read_provenance(out)
    assert "vgg16-hed" in prov["weights"] and prov["params"]["style"] == str(painting)

    # (a missing or unreadable --style file is one line naming it: tests/test_gatys.py, in process)
    unknown = _run("run", "stylize", "-m", "gatys", str(photo), "--stlye-weight", "3")
    assert unknown.returncode == 2
    assert "--stlye-weight" in unknown.stderr and "--style-weight" in unknown.stderr
