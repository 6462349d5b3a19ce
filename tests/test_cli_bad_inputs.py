"""``genedit run`` with bad inputs: exact exit codes, one error line naming the file, batches go on."""

from __future__ import annotations

import json
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from toy_plugin import ToyPlugin, hub_variant, sha256, toy_bytes, toy_card

from genedit_core.images import read_provenance


@pytest.fixture
def sr(install):
    return install(ToyPlugin(toy_card(hub_variant())), sr=True)


def good_png(path: Path, size: tuple[int, int] = (6, 4)) -> Path:
    arr = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def one_error(result, path: Path | str) -> str:
    assert len(result.error_lines) == 1, result
    line = result.error_lines[0]
    assert line.startswith(f"error: {path}: "), line
    return line[len(f"error: {path}: ") :]


def test_corrupt_file(sr, cli, tmp_path):
    bad = tmp_path / "corrupt.png"
    bad.write_bytes(b"definitely not an image " * 8)
    result = cli("run", "upscale", "-m", "bicubic", str(bad), "-q")
    assert result.code == 1
    assert one_error(result, bad).startswith("cannot read image (cannot identify image file")


def test_truncated_png(sr, cli, tmp_path):
    data = good_png(tmp_path / "full.png", (40, 30)).read_bytes()
    bad = tmp_path / "truncated.png"
    bad.write_bytes(data[: len(data) // 2])
    result = cli("run", "upscale", "-m", "bicubic", str(bad), "-q")
    assert result.code == 1
    assert one_error(result, bad).startswith("cannot read image (")
    assert not (tmp_path / "results").exists()


def test_zero_byte_file(sr, cli, tmp_path):
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    result = cli("run", "upscale", "-m", "bicubic", str(bad), "-q")
    assert result.code == 1
    assert one_error(result, bad) == "empty file (0 bytes)"


def test_an_input_that_is_a_fifo_or_a_device_is_one_line_without_reading_it(sr, cli, tmp_path):
    """Opening a FIFO blocks until a writer comes and a device may never end: refused from stat."""
    import os

    fifo = tmp_path / "fifo.png"
    os.mkfifo(fifo)
    link = tmp_path / "zero.png"
    link.symlink_to("/dev/zero")
    good = good_png(tmp_path / "good.png")
    result = cli("run", "upscale", "-m", "bicubic", str(fifo), str(link), str(good), "--out-dir", "o", "-q")
    assert result.code == 1, result
    assert sorted(result.error_lines) == [
        f"error: {fifo}: a FIFO, not an image file",
        f"error: {link}: a device, not an image file",
    ]
    assert (tmp_path / "o" / "good_bicubic_x2.png").is_file()


def test_missing_file(sr, cli, tmp_path):
    result = cli("run", "upscale", "-m", "bicubic", str(tmp_path / "nope.png"), "-q")
    assert result.code == 1
    assert one_error(result, tmp_path / "nope.png") == "no such file"


def test_folder_with_one_bad_file_does_the_rest(sr, cli, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "c.png"):
        good_png(src / name)
    (src / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = tmp_path / "out"

    result = cli("run", "upscale", "-m", "bicubic", str(src), "--out-dir", str(out), "-q")

    assert result.code == 1
    assert one_error(result, src / "b.png").startswith("cannot read image")
    assert sorted(p.name for p in out.iterdir()) == ["a_bicubic_x2.png", "c_bicubic_x2.png"]
    assert Image.open(out / "c_bicubic_x2.png").size == (12, 8)


def test_json_summary_has_a_status_per_file(sr, cli, tmp_path):
    good = good_png(tmp_path / "good.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")

    result = cli(
        "run", "upscale", "-m", "bicubic", str(good), str(bad), "--out-dir", str(tmp_path / "o"), "--json"
    )

    assert result.code == 1
    summary = json.loads(result.out)
    assert summary["model"] == "bicubic" and summary["scale"] == 2 and summary["failed"] == 1
    by_input = {r["input"]: r for r in summary["results"]}
    assert by_input[str(good)]["status"] == "ok"
    assert by_input[str(good)]["size"] == [12, 8]
    assert Path(by_input[str(good)]["output"]).is_file()
    assert by_input[str(bad)]["status"] == "failed"
    assert by_input[str(bad)]["error"] == f"{bad}: empty file (0 bytes)"


def test_unknown_model_suggests_the_close_name(sr, cli, tmp_path):
    result = cli("run", "upscale", "-m", "edsr-basline", str(good_png(tmp_path / "a.png")))
    assert result.code == 2
    assert len(result.error_lines) == 1
    line = result.error_lines[0]
    assert line.startswith("error: Unknown model 'edsr-basline'. Did you mean: edsr-baseline")
    assert line.count("edsr-baseline") == 1
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("model", "scale", "message"),
    [
        ("edsr", "8", "model 'edsr' has no x8 (it has x2, x3, x4)"),
        ("toy", "3", "model 'toy' has no x3 (it has x2)"),
    ],
)
def test_scale_the_model_lacks(sr, cli, tmp_path, model, scale, message):
    result = cli("run", "upscale", "-m", model, "--scale", scale, str(good_png(tmp_path / "a.png")))
    assert result.code == 2
    assert result.error_lines == [f"error: {message}"]


def _bomb(path: Path) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 60_000, 60_000, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


def test_decompression_bomb(sr, cli, tmp_path):
    bomb = _bomb(tmp_path / "bomb.png")
    result = cli("run", "upscale", "-m", "bicubic", str(bomb), "-q")
    assert result.code == 1
    assert one_error(result, bomb).startswith("60000×60000 = 3,600,000,000 pixels exceeds the limit")


def test_max_pixels_option(sr, cli, tmp_path):
    small = good_png(tmp_path / "a.png", (6, 4))
    result = cli("run", "upscale", "-m", "bicubic", str(small), "--max-pixels", "20", "-q")
    assert result.code == 1
    assert one_error(result, small).startswith(
        "6×4 = 24 pixels exceeds the limit of 20 (possible decompression bomb)"
    )


class _Payload:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch", "pickle"])
def test_pickle_checkpoint_with_code_is_refused(sr, cli, tmp_path, how):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pth"
    payload = {"conv.weight": torch.zeros(12, 3, 1, 1), "x": _Payload(marker)}
    if how == "torch":
        torch.save(payload, evil)
    else:
        evil.write_bytes(pickle.dumps(payload, protocol=2))

    result = cli("run", "upscale", "-m", "toy", "--weights", str(evil), str(good_png(tmp_path / "a.png")))

    assert result.code == 1
    assert one_error(result, evil).startswith("refused, the file holds Python objects")
    assert not marker.exists()
    assert not (tmp_path / "results").exists()


def test_local_weights_and_provenance(sr, cli, tmp_path):
    weights = tmp_path / "toy.safetensors"
    weights.write_bytes(toy_bytes("invert"))
    src = good_png(tmp_path / "a.png")

    result = cli(
        "run", "upscale", "-m", "toy", "--weights", str(weights), str(src), "-o", str(tmp_path / "b.png")
    )

    assert result.code == 0, result
    prov = read_provenance(tmp_path / "b.png")
    assert prov["model"] == "toy" and prov["scale"] == 2 and prov["task"] == "upscale"
    assert prov["weights"] == str(weights) and prov["weights_sha256"] == sha256(weights.read_bytes())
    out = np.asarray(Image.open(tmp_path / "b.png")).astype(int)
    expected = 255 - np.asarray(Image.open(src)).astype(int).repeat(2, 0).repeat(2, 1)
    assert np.abs(out - expected).max() <= 1


def test_output_equal_to_input_is_refused(sr, cli, tmp_path):
    src = good_png(tmp_path / "a.png")
    before = src.read_bytes()
    result = cli("run", "upscale", "-m", "bicubic", str(src), "-o", str(src), "-q")
    assert result.code == 1
    assert "output would overwrite its input" in one_error(result, src)
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_alpha_to_jpeg_is_refused(sr, cli, tmp_path):
    src = tmp_path / "a.png"
    Image.fromarray(np.full((4, 4, 4), 128, np.uint8), "RGBA").save(src)
    result = cli("run", "upscale", "-m", "bicubic", str(src), "--ext", "jpg", "-q")
    assert result.code == 1
    dest = Path("results") / "a_bicubic_x2.jpg"  # the default output folder, in the current folder
    assert one_error(result, dest) == "JPEG cannot store the alpha channel; write .png, .webp or .tif instead"
    assert not dest.exists()


def test_absent_device_is_a_usage_error(sr, cli, tmp_path):
    device = "cuda:99" if torch.cuda.is_available() else "cuda"
    result = cli("run", "upscale", "-m", "bicubic", "--device", device, str(good_png(tmp_path / "a.png")))
    assert result.code == 2
    assert len(result.error_lines) == 1 and result.error_lines[0].startswith(f"error: --device {device}: ")
    assert not (tmp_path / "results").exists()


def test_fp16_on_cpu_is_refused(sr, cli, tmp_path):
    result = cli(
        "run", "upscale", "-m", "toy", "--device", "cpu", "--dtype", "fp16", str(good_png(tmp_path / "a.png"))
    )
    assert result.code == 2
    assert result.error_lines == [
        "error: --dtype fp16: half precision is not supported on CPU; use bf16 or fp32"
    ]


def test_unknown_dtype(sr, cli, tmp_path):
    result = cli("run", "upscale", "-m", "bicubic", "--dtype", "fp8", str(good_png(tmp_path / "a.png")))
    assert result.code == 2
    assert result.error_lines == ["error: --dtype fp8: expected one of auto, fp32, bf16, fp16"]


def test_all_good_exits_zero(sr, cli, tmp_path):
    src = good_png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "bicubic", str(src), "-q")
    assert result.code == 0, result
    assert result.error_lines == []
    assert Image.open(tmp_path / "results" / "a_bicubic_x2.png").size == (12, 8)
