"""`genedit run` drives an exported ONNX upscaler through onnxruntime (backend entry point)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnxruntime")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args], capture_output=True, text=True, timeout=300
    )


def test_onnx_weights_run_like_torch(tmp_path):
    onnx = tmp_path / "edsr.onnx"
    res = _cli("export", "edsr-baseline", "--weights", "bundled", "--format", "onnx", "--out", str(onnx))
    assert res.returncode == 0, res.stderr
    src = tmp_path / "in.png"
    rgba = np.random.default_rng(0).integers(0, 255, (23, 31, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(src)
    by_suffix = _cli(
        "run",
        "upscale",
        "-m",
        "edsr-baseline",
        "--weights",
        str(onnx),
        str(src),
        "-o",
        str(tmp_path / "onnx.png"),
        "--tile",
        "16",
        "-q",
    )
    assert by_suffix.returncode == 0, by_suffix.stderr
    explicit = _cli(
        "run",
        "upscale",
        "-m",
        "edsr-baseline",
        "--backend",
        "onnxruntime",
        "--weights",
        str(onnx),
        str(src),
        "-o",
        str(tmp_path / "onnx2.png"),
        "-q",
    )
    assert explicit.returncode == 0, explicit.stderr
    torch_run = _cli(
        "run",
        "upscale",
        "-m",
        "edsr-baseline",
        "--weights",
        "bundled",
        "--dtype",
        "fp32",
        str(src),
        "-o",
        str(tmp_path / "torch.png"),
        "-q",
    )
    assert torch_run.returncode == 0, torch_run.stderr
    a = np.asarray(Image.open(tmp_path / "onnx.png")).astype(int)
    b = np.asarray(Image.open(tmp_path / "torch.png")).astype(int)
    c = np.asarray(Image.open(tmp_path / "onnx2.png")).astype(int)
    assert a.shape == b.shape == (46, 62, 4)
    assert np.abs(a - b).max() <= 1 and np.abs(c - b).max() <= 1


def test_unknown_backend_is_a_usage_error(tmp_path):
    src = tmp_path / "in.png"
    Image.new("RGB", (8, 8)).save(src)
    res = _cli(
        "run", "upscale", "-m", "edsr-baseline", "--backend", "tensorrt-nope", "--weights", "x.onnx", str(src)
    )
    assert res.returncode == 2
    assert "no such backend" in res.stderr and "onnxruntime" in res.stderr
