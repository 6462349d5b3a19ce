"""Bit depth and orientation survive every container that can keep them, and a warning says when not.

Each hostile-but-valid input (a planar 16-bit TIFF, a 16-bit PNG turned by ``eXIf``, a 16-bit TIFF
turned by its Orientation tag) runs through ``genedit run upscale -m resize`` (the toy bicubic
upscaler, ``toy_plugin.ResizePlugin``, installed as an entry point) in a subprocess next
to a plain twin holding the same pixels as they are shown. The outputs must be 16-bit and equal to
the twin's, bit for bit; a 16-bit input written as JPEG gives one warning line naming the output.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
from helpers import run_cli
from PIL import Image
from toy_plugin import toy_site

RNG = np.random.default_rng(7)


@pytest.fixture(scope="module")
def toy_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The toy plugins alone: no other plugin's warnings in the stderr this test reads."""
    return toy_site(tmp_path_factory.mktemp("toy-site"))


def _png16(path: Path, arr: np.ndarray, orientation: int | None = None) -> None:
    h, w, c = arr.shape
    buf = io.BytesIO()
    png.Writer(w, h, greyscale=c in (1, 2), alpha=c in (2, 4), bitdepth=16).write(buf, arr.reshape(h, w * c))
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        chunks.insert(1, (b"eXIf", exif.tobytes()[6:]))  # eXIf holds the TIFF block, no "Exif\0\0"
    with open(path, "wb") as f:
        png.write_chunks(f, chunks)


def _read16(path: Path) -> np.ndarray:
    if path.suffix == ".png":
        w, h, rows, info = png.Reader(filename=str(path)).asDirect()
        assert info["bitdepth"] == 16
        return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])
    arr = tifffile.imread(path)
    assert arr.dtype == np.uint16
    return arr


def test_planar_tiff_and_orientation_tags_are_kept_through_a_model(tmp_path, toy_only):
    shown = RNG.integers(0, 65536, (6, 10, 3), dtype=np.uint16)  # the pixels as they are meant to be seen
    tifffile.imwrite(
        tmp_path / "planar.tif", np.moveaxis(shown, -1, 0), photometric="rgb", planarconfig="separate"
    )
    tifffile.imwrite(tmp_path / "contig.tif", shown, photometric="rgb")
    # Orientation 6: stored turned 90° counter-clockwise, shown turned back clockwise
    _png16(tmp_path / "exif.png", np.rot90(shown, 1), orientation=6)
    _png16(tmp_path / "upright.png", shown)
    # Orientation 3: stored upside down
    tifffile.imwrite(
        tmp_path / "turned.tif", shown[::-1, ::-1], photometric="rgb", extratags=[(274, 3, 1, 3, True)]
    )
    names = ["planar.tif", "contig.tif", "exif.png", "upright.png", "turned.tif"]
    before = {n: (tmp_path / n).read_bytes() for n in names}

    result = run_cli(
        "run", "upscale", "-m", "resize", *names, "--out-dir", "out", "-q", env=toy_only, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "Traceback" not in result.stdout
    out = {n: _read16(tmp_path / "out" / f"{Path(n).stem}_resize_x2{Path(n).suffix}") for n in names}
    reference = out["contig.tif"]
    assert reference.shape == (12, 20, 3) and np.any(reference % 257 != 0)  # real 16-bit values
    for name in ("planar.tif", "exif.png", "upright.png", "turned.tif"):
        assert np.array_equal(out[name], reference), name
    assert {n: (tmp_path / n).read_bytes() for n in names} == before


def test_16bit_to_jpeg_warns_once_naming_the_output(tmp_path, toy_only):
    _png16(tmp_path / "deep.png", RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16))

    result = run_cli(
        "run",
        "upscale",
        "-m",
        "resize",
        "deep.png",
        "--out-dir",
        "out",
        "--ext",
        "jpg",
        "-q",
        env=toy_only,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "warning: out/deep_resize_x2.jpg: JPEG holds 8 bits per channel, so this 16-bit image was "
        "written at 8 bits (write .png or .tif to keep 16)"
    ]
    with Image.open(tmp_path / "out" / "deep_resize_x2.jpg") as im:
        assert im.mode == "RGB" and im.size == (12, 8)
