"""Shared helpers (a unique module name: another plugin's conftest would shadow a generic one)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from PIL import Image


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    """``genedit ARGS`` in a fresh interpreter with only this plugin loaded."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GENEDIT_LOAD_PLUGINS": "cyclegan",
        "NO_COLOR": "1",
        "OMP_NUM_THREADS": "1",
        "COLUMNS": "300",
    }
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=cwd,
    )


def write_png(path, seed: int, size: tuple[int, int] = (24, 20), tone: bool = False) -> None:
    """A smooth random colour image (``tone``: a fixed colour transform of it)."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([np.sin(xx * rng.uniform(2, 6) + rng.uniform(0, 3)) for _ in range(3)], -1) * 0.4 + 0.5
    img = img * (0.6 + 0.4 * yy[..., None])
    if tone:
        img = img[..., ::-1] ** 1.5
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(path)
