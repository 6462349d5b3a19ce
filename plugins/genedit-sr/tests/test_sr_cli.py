"""``genedit run upscale`` end to end, in a subprocess, on a tiny random EDSR checkpoint."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

import genedit_core


def tiny_official_edsr(nf: int = 8, nb: int = 1) -> dict:
    """Random weights under EDSR-PyTorch names, with the MeanShift convs (0–255 input)."""
    g = torch.Generator().manual_seed(0)
    mean = torch.tensor([0.4488, 0.4371, 0.4040])
    sd: dict[str, torch.Tensor] = {
        "sub_mean.weight": torch.eye(3).view(3, 3, 1, 1),
        "sub_mean.bias": -255 * mean,
        "add_mean.weight": torch.eye(3).view(3, 3, 1, 1),
        "add_mean.bias": 255 * mean,
    }
    convs = [("head.0", nf, 3)]
    convs += [(f"body.{i}.body.{j}", nf, nf) for i in range(nb) for j in (0, 2)]
    convs += [(f"body.{nb}", nf, nf), ("tail.0.0", 4 * nf, nf), ("tail.1", 3, nf)]
    for name, o, i in convs:
        sd[f"{name}.weight"] = torch.randn(o, i, 3, 3, generator=g) * (0.1 / math.sqrt(9 * i))
        sd[f"{name}.bias"] = torch.zeros(o)
    return sd


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GENEDIT_LOAD_PLUGINS": "sr", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_cli_upscale_x2_with_a_local_checkpoint(tmp_path):
    weights = tmp_path / "edsr_x2.pt"
    torch.save(tiny_official_edsr(), weights)
    pixels = np.random.default_rng(0).integers(0, 256, size=(10, 14, 3), dtype=np.uint8)
    src, dest = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(pixels).save(src)

    result = _run("run", "upscale", str(src), "-m", "edsr", "--weights", str(weights), "-o", str(dest),
                  "--device", "cpu", "--dtype", "fp32", "-q")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = np.asarray(Image.open(dest).convert("RGB"))
    assert out.shape == (20, 28, 3)

    model = genedit_core.load("edsr", weights=str(weights), device="cpu", dtype="fp32")
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        expected = (model(x).clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(out.astype(np.float64) - expected).max() <= 1


def test_cli_scale_mismatch_exits_with_a_usage_error(tmp_path):
    weights = tmp_path / "edsr_x2.pt"
    torch.save(tiny_official_edsr(), weights)
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(src)
    result = _run("run", "upscale", str(src), "-m", "edsr", "--weights", str(weights), "--scale", "3",
                  "-o", str(tmp_path / "out.png"), "--device", "cpu", "-q")  # fmt: skip
    assert result.returncode == 2
    assert "x2" in result.stderr and "x3" in result.stderr and "edsr_x2.pt" in result.stderr
    assert not (tmp_path / "out.png").exists()
