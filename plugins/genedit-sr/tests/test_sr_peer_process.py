"""The peer process of benchmarks/backends.py computes what genedit computes, so its ratio compares runtimes.

``benchmarks/peer_process.py`` is a bare-torch EDSR or RRDBNet with no genedit import; if its
network or its reading of the weights differed from genedit's, the whole-process ratio would
compare two different computations. It must agree with ``genedit run upscale`` in fp32 to within
rounding, on the weights the benchmark uses (EDSR's bundled file, seeded RRDBNet x4 weights).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

import genedit_core

REPO = Path(__file__).resolve().parents[3]


def _rrdb_weights(tmp_path: Path) -> str:
    from genedit_sr.layouts import make_module

    torch.manual_seed(0)
    module = make_module("rrdb", {"scale": 4})
    path = tmp_path / "rrdb-x4.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return str(path)


@pytest.mark.parametrize(("arch", "card", "scale"), [("edsr", "edsr-baseline", 2), ("rrdb", "realesrgan", 4)])
def test_peer_process_matches_genedit_fp32(tmp_path, arch, card, scale):
    rng = np.random.default_rng(3)
    src = tmp_path / "in.png"
    # a smooth ramp plus noise: outputs land inside 0-255, so clamping does not hide a difference
    ramp = np.linspace(40, 200, 12)[None, :, None] + rng.normal(0, 12, (10, 12, 3))
    Image.fromarray(np.clip(ramp, 0, 255).astype(np.uint8)).save(src)
    if arch == "edsr":
        model = genedit_core.load(card, weights="bundled", scale=scale, device="cpu", dtype="fp32")
        weights = str(model.weights.path)
    else:
        weights = _rrdb_weights(tmp_path)
    peer_out = tmp_path / "peer.png"
    peer = [sys.executable, str(REPO / "benchmarks" / "peer_process.py"), weights, str(src), str(peer_out)]
    proc = subprocess.run([*peer, "--arch", arch, "--scale", str(scale)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "computed in" in proc.stdout
    ours = tmp_path / "ours.png"
    done = subprocess.run(
        [sys.executable, "-m", "genedit_cli", "run", "upscale", "-m", card, "-s", str(scale),
         "--weights", weights if arch == "rrdb" else "bundled", "--backend", "torch", "--dtype", "fp32",
         "--device", "cpu", str(src), "-o", str(ours)],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    a = np.asarray(Image.open(peer_out).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(ours).convert("RGB"), dtype=np.int16)
    assert a.shape == b.shape == (10 * scale, 12 * scale, 3)
    assert np.abs(a - b).max() <= 1  # a float32 value near .5 may round either way
    assert (a != b).mean() < 0.01
    assert a.std() > 1  # a real computation, not a constant image both sides clamp to
