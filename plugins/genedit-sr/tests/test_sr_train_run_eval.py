"""genedit-sr through the whole CLI: ``train`` a tiny EDSR-baseline, ``run`` and ``eval`` its run folder,
refuse to overwrite the run without ``--resume``, then resume it (subprocesses, offline)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _genedit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """``genedit ARGS`` with only genedit-sr loaded, offline, its caches inside ``tmp_path``."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "GENEDIT_CACHE_DIR": str(tmp_path / "genedit-cache"),
        "GENEDIT_LOAD_PLUGINS": "sr",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


@pytest.mark.slow
def test_train_then_run_then_eval_through_the_cli(tmp_path):
    run = tmp_path / "run"
    tiny = [
        "--set",
        "model.num_feat=8",
        "--set",
        "model.num_block=1",
        "--set",
        "train.steps=6",
        "--set",
        "train.batch_size=4",
        "--set",
        "train.ckpt_every=3",
        "--set",
        "train.eval_every=3",
        "--set",
        "data.patch=16",
        "--set",
        "data.eval_max_side=48",
    ]
    res = _genedit(
        tmp_path, "train", "edsr-baseline", "--data", "builtin:skimage-photos", "--out", str(run), *tiny, "-q"
    )
    assert res.returncode == 0, res.stderr
    assert (run / "model.safetensors").is_file() and (run / "checkpoints" / "best.json").is_file()
    again = _genedit(
        tmp_path, "train", "edsr-baseline", "--data", "builtin:skimage-photos", "--out", str(run), "-q"
    )
    assert again.returncode == 2 and "--resume" in again.stderr
    img = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(img)
    up = _genedit(
        tmp_path,
        "run",
        "upscale",
        "--model",
        "edsr-baseline",
        "--weights",
        str(run),
        str(img),
        "-o",
        str(tmp_path / "out.png"),
        "--dtype",
        "fp32",
        "-q",
    )
    assert up.returncode == 0, up.stderr
    assert Image.open(tmp_path / "out.png").size == (48, 40)
    ev = _genedit(
        tmp_path,
        "eval",
        "upscale",
        "--model",
        "edsr-baseline",
        "--weights",
        str(run),
        "--data",
        "builtin:skimage-photos:heldout",
        "--json",
    )
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert [r["image"] for r in report["rows"]] == ["astronaut", "camera", "chelsea", "coffee", "coins"]
    assert report["summary"]["bicubic_psnr"] > 25 and report["scale"] == 2
    more = _genedit(tmp_path, "train", "edsr-baseline", "--resume", str(run), "--set", "train.steps=8", "-q")
    assert more.returncode == 0, more.stderr
    assert json.loads((run / "checkpoints" / "last.json").read_text())["step"] == 8
