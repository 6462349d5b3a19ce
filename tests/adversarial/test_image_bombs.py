"""Decompression bombs on every image decode path: refused from headers or capped inflation, cheaply.

Each attack is built at test time as a small file (at most ~1 MB) that would decode or inflate to
about 1 GiB or more. The CLI runs in a subprocess whose peak memory is read from ``wait4``; a bomb
must cost less than 300 MB above a run on a tiny valid image, and give exit 1, one error line naming
the file, no traceback, no output file and an unchanged input. Paths that no bomb can reach cheaply
enough for a subprocess are tested in-process.
"""

from __future__ import annotations

import lzma
import os
import struct
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_plugin import toy_site

from genedit_core.errors import ImageError
from genedit_core.images import read_image

GiB = 1 << 30
PEAK_ALLOWANCE = 300 * 1024 * 1024


# ---- building the attacks ------------------------------------------------------------------------------
def zeros_zlib(size: int) -> bytes:
    """A zlib stream of ``size`` zero bytes (a multiple of 1 MiB), built in milliseconds.

    After a full flush the compressor forgets its history, so each further MiB of zeros compresses
    to the same bytes: one block is repeated, then an empty final block and the Adler-32 of the
    zeros (A stays 1, B counts the bytes) close the stream.
    """
    step = 1 << 20
    c = zlib.compressobj(9)
    first = c.compress(bytes(step)) + c.flush(zlib.Z_FULL_FLUSH)
    adler = ((size % 65521) << 16) | 1
    return first[:2] + first[2:] * (size // step) + b"\x03\x00" + struct.pack(">I", adler)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_file(
    width: int,
    height: int,
    *,
    bit_depth: int = 16,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    idat: bytes | None = None,
) -> bytes:
    """An RGB PNG of zeros with ``extra`` chunks before its image data (or other image data)."""
    if idat is None:
        idat = zlib.compress(bytes((1 + width * 3 * bit_depth // 8) * height))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + b"".join(_chunk(k, d) for k, d in extra)
        + _chunk(b"IDAT", idat)
        + _chunk(b"IEND", b"")
    )


def tiff_file(
    width: int,
    height: int,
    segment: bytes,
    *,
    count: int = 1,
    rows_per_strip: int | None = None,
    tile: int | None = None,
    planar: bool = False,
    compression: int = 8,
    bits: int = 16,
) -> bytes:
    """A little-endian RGB TIFF whose ``count`` strips (or tiles) all point at ``segment``."""
    bps_at = 8 + len(segment)
    offsets_at = bps_at + 6
    counts_at = offsets_at + 4 * count
    ifd_at = counts_at + 4 * count

    def entry(tag: int, kind: int, n: int, value: int) -> bytes:
        packed = struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value)
        return struct.pack("<HHI", tag, kind, n) + packed

    offsets = entry(324 if tile else 273, 4, count, offsets_at if count > 1 else 8)
    counts = entry(325 if tile else 279, 4, count, counts_at if count > 1 else len(segment))
    entries = [
        entry(256, 4, 1, width),
        entry(257, 4, 1, height),
        struct.pack("<HHII", 258, 3, 3, bps_at),
        entry(259, 3, 1, compression),
        entry(262, 3, 1, 2),
        *([] if tile else [offsets]),
        entry(277, 3, 1, 3),
        *([] if tile else [entry(278, 4, 1, rows_per_strip or height), counts]),
        entry(284, 3, 1, 2 if planar else 1),
        *([entry(322, 4, 1, tile), entry(323, 4, 1, tile), offsets, counts] if tile else []),
    ]
    return (
        b"II*\x00"
        + struct.pack("<I", ifd_at)
        + segment
        + struct.pack("<HHH", bits, bits, bits)
        + struct.pack("<I", 8) * count
        + struct.pack("<I", len(segment)) * count
        + struct.pack("<H", len(entries))
        + b"".join(entries)
        + b"\x00\x00\x00\x00"
    )


def _bombs() -> dict[str, tuple[str, bytes, str]]:
    """name: (file name, bytes, what the error line must say)."""
    gib = zeros_zlib(GiB)
    row = zlib.compress(bytes(14000 * 2))
    return {
        # 3 × 14000 × 14000 16-bit planes in 42,000 one-row strips, all the same 30 bytes
        "planar_tiff": (
            "planar.tif",
            tiff_file(14000, 14000, row, count=3 * 14000, rows_per_strip=1, planar=True),
            "14000×14000 = 196,000,000 pixels exceeds the limit",
        ),
        "png16_icc": (
            "icc.png",
            png_file(4, 4, extra=((b"iCCP", b"icc\x00\x00" + gib),)),
            "ICC profile (iCCP chunk) inflates beyond",
        ),
        "png16_pixel_data": (
            "idat.png",
            png_file(4, 4, idat=gib),
            "image data inflates beyond the 100 bytes",
        ),
        "tiff16_strip": (
            "strip.tif",
            tiff_file(64, 64, gib),
            "a compressed strip or tile inflates beyond the 24,576 bytes",
        ),
        "png8_xmp": (
            "xmp.png",
            png_file(4, 4, bit_depth=8, extra=((b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + gib),)),
            "text (iTXt chunk) inflates beyond",
        ),
    }


# ---- running the CLI and measuring it ---------------------------------------------------------------
def _genedit(*args: str, cwd: Path, toy: dict[str, str]) -> tuple[int, str, str, int]:
    """``genedit ARGS`` in a subprocess: exit code, stdout, stderr and peak resident memory in bytes.

    ``wait4`` reports the peak of this one child, where ``RUSAGE_CHILDREN`` would give the largest
    child the test process ever waited for.
    """
    env = {k: v for k, v in os.environ.items() if k != "GENEDIT_MAX_PIXELS"}
    env.update(COLUMNS="200", HF_HUB_OFFLINE="1", **toy)
    out_file, err_file = cwd / ".stdout", cwd / ".stderr"
    with open(out_file, "w") as out, open(err_file, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "genedit_cli", *args], stdout=out, stderr=err, env=env, cwd=cwd
        )
        timer = threading.Timer(120, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = out_file.read_text(), err_file.read_text()
    out_file.unlink()
    err_file.unlink()
    return proc.returncode, text[0], text[1], usage.ru_maxrss * 1024


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment that makes ``genedit`` load the toy plugins alone (model ``resize``)."""
    return toy_site(tmp_path_factory.mktemp("toy-site"))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, toy: dict[str, str]) -> int:
    """Peak memory of a run on a tiny valid image: Python, torch and the model, nothing more."""
    root = tmp_path_factory.mktemp("baseline")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "tiny.png")
    code, _, err, peak = _genedit(
        "run", "upscale", "-m", "resize", "tiny.png", "--out-dir", "out", cwd=root, toy=toy
    )
    assert code == 0, err
    assert (root / "out" / "tiny_resize_x2.png").exists()
    return peak


@pytest.fixture(scope="module")
def bombs() -> dict[str, tuple[str, bytes, str]]:
    return _bombs()


@pytest.mark.parametrize("name", ["planar_tiff", "png16_icc", "png16_pixel_data", "tiff16_strip", "png8_xmp"])
def test_bomb_is_refused_cheaply(name, bombs, baseline, toy, tmp_path):
    file_name, data, message = bombs[name]
    assert len(data) < 1_200_000  # a small file ...
    src = tmp_path / file_name
    src.write_bytes(data)

    code, out, err, peak = _genedit(
        "run", "upscale", "-m", "resize", file_name, "--out-dir", "out", "-q", cwd=tmp_path, toy=toy
    )

    assert code == 1, (out, err)
    assert "Traceback" not in out + err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"error: {file_name}: ") and message in errors[0]
    assert "decompression bomb" in errors[0]
    assert src.read_bytes() == data
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [file_name]  # no output, no .part
    assert peak - baseline < PEAK_ALLOWANCE, f"peak {peak >> 20} MB, baseline {baseline >> 20} MB"


# ---- in-process: the other compressions, tiles, headers and formats ------------------------------------
def _refused(path: Path, data: bytes, *needles: str) -> None:
    path.write_bytes(data)
    with pytest.raises(ImageError) as exc:
        read_image(path)
    message = str(exc.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    for needle in needles:
        assert needle in message


@pytest.mark.parametrize(
    ("compression", "segment"),
    [
        (34925, lzma.compress(bytes(1 << 20))),  # LZMA
        (32773, b"\x81\x00" * 8192),  # PackBits: each 2 bytes repeat a zero 128 times
    ],
    ids=["lzma", "packbits"],
)
def test_other_tiff_compressions_are_capped(tmp_path, compression, segment):
    _refused(
        tmp_path / "bomb.tif",
        tiff_file(4, 4, segment, compression=compression),
        "inflates beyond the 96 bytes",
        "decompression bomb",
    )


def test_a_huge_tile_on_a_tiny_image_is_capped(tmp_path):
    # one 8192×8192 tile (402 MB declared) on a 16×16 image: padding past the edge is allowed, not 1 GiB
    _refused(
        tmp_path / "tile.tif",
        tiff_file(16, 16, zeros_zlib(GiB), tile=8192),
        "a compressed strip or tile inflates beyond",
    )


def test_tiff_strips_within_their_size_still_decode(tmp_path):
    rgb = np.arange(4 * 4 * 3, dtype=np.uint16).reshape(4, 4, 3) * 1000
    for compression, segment in ((8, zlib.compress(rgb.tobytes())), (34925, lzma.compress(rgb.tobytes()))):
        path = tmp_path / f"ok{compression}.tif"
        path.write_bytes(tiff_file(4, 4, segment, compression=compression))
        assert np.array_equal(np.round(read_image(path).pixels * 65535).astype(np.uint16), rgb)


def test_compressed_text_in_an_8bit_png_is_capped(tmp_path):
    ztxt = b"Raw profile type exif\x00\x00" + zeros_zlib(64 << 20)
    _refused(tmp_path / "z.png", png_file(4, 4, bit_depth=8, extra=((b"zTXt", ztxt),)), "text (zTXt chunk)")


def test_metadata_within_the_cap_is_kept(tmp_path):
    icc = bytes(range(256)) * 64
    path = tmp_path / "icc.png"
    path.write_bytes(png_file(2, 2, extra=((b"iCCP", b"icc\x00\x00" + zlib.compress(icc)),)))
    assert read_image(path).icc_profile == icc


def _patched(data: bytes, at: int, fmt: str, *values: int) -> bytes:
    packed = struct.pack(fmt, *values)
    return data[:at] + packed + data[at + len(packed) :]


@pytest.mark.parametrize("fmt", ["JPEG", "BMP", "TIFF"])
def test_header_bombs_in_pillow_formats(tmp_path, fmt):
    path = tmp_path / f"bomb.{fmt.lower()}"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format=fmt)
    data = path.read_bytes()
    if fmt == "JPEG":
        sof = data.index(b"\xff\xc0")
        data = _patched(data, sof + 5, ">HH", 65000, 65000)
    elif fmt == "BMP":
        data = _patched(data, 18, "<ii", 20000, 20000)
    else:  # an 8-bit TIFF goes to Pillow: its planar form is checked per plane, like the 16-bit one
        row = zlib.compress(bytes(14000))
        data = tiff_file(14000, 14000, row, count=3 * 14000, rows_per_strip=1, planar=True, bits=8)
    _refused(path, data, "pixels exceeds the limit", "decompression bomb")


def test_formats_outside_the_supported_list_are_not_decoded(tmp_path):
    # a GIF named .png: Pillow could decode it, but only PNG, JPEG, WebP, TIFF and BMP decoders may run
    path = tmp_path / "renamed.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(path, format="GIF")
    _refused(path, path.read_bytes(), "cannot read image")
