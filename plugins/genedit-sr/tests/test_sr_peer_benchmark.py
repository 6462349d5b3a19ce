"""The peer process of benchmarks/backends.py computes what genedit computes, so the ratio compares runtimes.

``benchmarks/peer_edsr.py`` is a bare-torch EDSR with no genedit import; if its network or its
reading of the bundled weights differed from genedit's, the whole-process ratio would compare two
different computations. It must agree with ``genedit run upscale`` in fp32 to within rounding.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import genedit_core

REPO = Path(__file__).resolve().parents[3]


def test_peer_edsr_process_matches_genedit_fp32(tmp_path):
    rng = np.random.default_rng(3)
    src = tmp_path / "in.png"
    # a smooth ramp plus noise: outputs land inside 0-255, so clamping does not hide a difference
    ramp = np.linspace(40, 200, 24)[None, :, None] + rng.normal(0, 12, (20, 24, 3))
    Image.fromarray(np.clip(ramp, 0, 255).astype(np.uint8)).save(src)
    model = genedit_core.load(
        "edsr-baseline", weights="bundled", scale=2, device="cpu", dtype="fp32", backend="torch"
    )
    weights = str(model.weights.path)
    peer_out = tmp_path / "peer.png"
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "peer_edsr.py"), weights, str(src), str(peer_out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "computed in" in proc.stdout
    ours = tmp_path / "ours.png"
    done = subprocess.run(
        [sys.executable, "-m", "genedit_cli", "run", "upscale", "-m", "edsr-baseline", "-s", "2", "--weights", "bundled",
         "--backend", "torch", "--dtype", "fp32", "--device", "cpu", str(src), "-o", str(ours)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    a = np.asarray(Image.open(peer_out).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(ours).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape == (40, 48, 3)
    assert np.abs(a - b).max() <= 1  # rounding of a float32 value near .5 may differ
    assert (a != b).mean() < 0.01
    # and the network is not the identity-like bicubic: the two agree on a real computation
    assert np.abs(a[::2, ::2] - np.asarray(Image.open(src), dtype=np.int16)).mean() > 0.5
