"""Image I/O loses nothing: alpha, grey, 16-bit depth, EXIF orientation, ICC profiles, provenance."""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms
from toy_plugin import ResizePlugin

import genedit_core
from genedit_core.errors import ImageError
from genedit_core.images import ImageData, read_image, read_provenance, write_image
from genedit_core.pipeline import apply

RNG = np.random.default_rng(1234)
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.fixture
def bicubic(install):
    """A toy bicubic x2 upscaler (F.interpolate), so expected pixels can be computed here."""
    install(ResizePlugin(mode="bicubic"))
    return genedit_core.load("resize", scale=2, device="cpu")


def _upscale(model, path: Path, out: Path) -> ImageData:
    result = apply(model, read_image(path), task="upscale", tile=None)
    write_image(out, result)
    return result


def _png16(path: Path, arr: np.ndarray) -> None:
    h, w, c = arr.shape
    writer = png.Writer(w, h, greyscale=c in (1, 2), alpha=c in (2, 4), bitdepth=16)
    with open(path, "wb") as f:
        writer.write(f, arr.reshape(h, w * c))


def _read_png16(path: Path) -> np.ndarray:
    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    assert info["bitdepth"] == 16
    return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])


def test_rgba_alpha_is_kept_and_upscaled(bicubic, tmp_path):
    rgba = RNG.integers(0, 256, (6, 8, 4), dtype=np.uint8)
    rgba[..., 3] = np.array([0, 0, 64, 128, 192, 255, 255, 255], dtype=np.uint8)[None, :]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in.png")

    _upscale(bicubic, tmp_path / "in.png", tmp_path / "out.png")

    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "RGBA" and im.size == (16, 12)
        alpha = np.asarray(im)[..., 3].astype(np.float32) / 255
    src = torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)[None, None]
    expected = (
        F.interpolate(src, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)[0, 0].numpy()
    )
    assert np.abs(alpha - expected).max() <= 1 / 255 + 1e-6
    assert alpha[:, :2].max() == 0.0 and alpha[:, -4:].min() == 1.0  # transparent stays, opaque stays
    assert 0.2 < alpha[:, 6:9].mean() < 0.7  # the ramp is interpolated, not thresholded


@pytest.mark.parametrize(("mode", "channels"), [("L", 1), ("LA", 2)])
def test_grey_modes_stay_grey(bicubic, tmp_path, mode, channels):
    arr = RNG.integers(0, 256, (5, 7, channels), dtype=np.uint8)
    Image.fromarray(arr[..., 0] if channels == 1 else arr, mode).save(tmp_path / "in.png")

    result = _upscale(bicubic, tmp_path / "in.png", tmp_path / "out.png")

    assert result.pixels.shape == (10, 14, channels)
    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == mode and im.size == (14, 10)
        out = np.asarray(im).reshape(10, 14, channels)
    ref = (
        F.interpolate(
            torch.from_numpy(arr.astype(np.float32) / 255).permute(2, 0, 1)[None],
            scale_factor=2,
            mode="bicubic",
            align_corners=False,
        )
        .clamp(0, 1)[0]
        .permute(1, 2, 0)
        .numpy()
    )
    assert np.abs(out / 255 - ref).max() <= 1 / 255 + 1e-6


def test_16bit_grey_png_in_gives_16bit_out(bicubic, tmp_path):
    grey = RNG.integers(0, 65536, (6, 5), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "in.png")
    assert read_image(tmp_path / "in.png").bit_depth == 16

    _upscale(bicubic, tmp_path / "in.png", tmp_path / "out.png")

    with Image.open(tmp_path / "out.png") as im:
        assert im.mode == "I;16" and im.size == (10, 12)
        out = np.asarray(im)
    assert np.any(out % 257 != 0)  # real 16-bit values, not 8-bit ones stretched


def test_16bit_grey_round_trip_is_exact(tmp_path):
    grey = RNG.integers(0, 65536, (7, 9), dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "in.png")
    write_image(tmp_path / "out.png", read_image(tmp_path / "in.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), grey)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_colour_png_round_trip_is_exact(tmp_path, channels):
    arr = RNG.integers(0, 65536, (7, 9, channels), dtype=np.uint16)
    _png16(tmp_path / "in.png", arr)

    image = read_image(tmp_path / "in.png")
    write_image(tmp_path / "out.png", image)

    assert image.bit_depth == 16 and image.channels == channels
    assert np.array_equal(_read_png16(tmp_path / "out.png"), arr)


def test_16bit_rgb_tiff_round_trip_is_exact(tmp_path):
    arr = RNG.integers(0, 65536, (7, 9, 3), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", arr, photometric="rgb")

    image = read_image(tmp_path / "in.tif")
    write_image(tmp_path / "out.tif", image)

    assert image.bit_depth == 16
    back = tifffile.imread(tmp_path / "out.tif")
    assert back.dtype == np.uint16 and np.array_equal(back, arr)


def test_16bit_colour_stays_16bit_through_a_model(bicubic, tmp_path):
    arr = RNG.integers(0, 65536, (4, 6, 3), dtype=np.uint16)
    _png16(tmp_path / "in.png", arr)
    _upscale(bicubic, tmp_path / "in.png", tmp_path / "out.png")
    out = _read_png16(tmp_path / "out.png")
    assert out.shape == (8, 12, 3)
    assert np.any(out % 257 != 0)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((4, 10, 3), dtype=np.uint8)
    arr[:, :5] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.fromarray(arr).save(tmp_path / "in.jpg", exif=exif.tobytes(), quality=100)

    image = read_image(tmp_path / "in.jpg")

    assert image.size == (4, 10)  # width, height swapped
    top, bottom = image.pixels[:3].mean(), image.pixels[-3:].mean()
    assert top > 0.9 and bottom < 0.1  # the white left half is now on top


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_icc_profile_is_carried_to_the_output(bicubic, tmp_path, suffix):
    arr = RNG.integers(0, 256, (4, 5, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "in.png", icc_profile=SRGB)

    _upscale(bicubic, tmp_path / "in.png", tmp_path / f"out{suffix}")

    with Image.open(tmp_path / f"out{suffix}") as im:
        assert im.info.get("icc_profile") == SRGB


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_icc_profile_is_carried_at_16bit(tmp_path, suffix):
    arr = (RNG.integers(0, 65536, (3, 4, 3), dtype=np.uint16).astype(np.float32)) / 65535
    write_image(tmp_path / f"out{suffix}", ImageData(arr, 16, SRGB))
    assert read_image(tmp_path / f"out{suffix}").icc_profile == SRGB


def test_failed_write_is_atomic(tmp_path, monkeypatch):
    import genedit_core.images as images

    dest = tmp_path / "out.png"
    dest.write_bytes(b"previous contents")

    def broken_encode(tmp, fmt, image, provenance, quality):
        Path(tmp).write_bytes(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(images, "_encode", broken_encode)
    with pytest.raises(ImageError) as exc:
        write_image(dest, ImageData(np.zeros((2, 2, 3), np.float32)))

    assert str(dest) in str(exc.value) and "disk full" in str(exc.value)
    assert dest.read_bytes() == b"previous contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no .part left behind


def test_provenance_chunk_names_model_and_weights(tmp_path):
    image = ImageData(np.full((2, 3, 3), 0.5, np.float32))
    prov = {"model": "toy", "weights_sha256": "ab" * 32}
    write_image(tmp_path / "out.png", image, provenance=prov)
    assert read_provenance(tmp_path / "out.png") == prov


def test_8bit_png_is_written_at_zlib_fastest_level_and_is_lossless(tmp_path):
    """genedit writes PNGs as OpenCV's imwrite does (zlib level 1): the zlib header of the image
    data says "fastest" (FLEVEL 0), and the pixels still read back exactly."""
    pixels = RNG.integers(0, 256, (64, 48, 3)).astype(np.float32) / 255.0
    write_image(tmp_path / "out.png", ImageData(pixels))
    reader = png.Reader(filename=str(tmp_path / "out.png"))
    idat = b"".join(data for kind, data in reader.chunks() if kind == b"IDAT")
    assert idat[1] >> 6 == 0  # FLEVEL: 0 = fastest; Pillow's default level 6 writes 2
    back = np.asarray(Image.open(tmp_path / "out.png"), dtype=np.float32) / 255.0
    np.testing.assert_array_equal(back, pixels)


def test_provenance_chunk_in_16bit_png(tmp_path):
    image = ImageData(np.full((2, 3, 3), 0.25, np.float32), bit_depth=16)
    write_image(tmp_path / "out.png", image, provenance={"model": "x", "weights_sha256": None})
    assert read_provenance(tmp_path / "out.png") == {"model": "x", "weights_sha256": None}


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".bmp"])
def test_alpha_to_a_format_without_alpha_is_refused(tmp_path, suffix):
    image = ImageData(np.ones((2, 2, 4), np.float32))
    dest = tmp_path / f"out{suffix}"
    with pytest.raises(ImageError) as exc:
        write_image(dest, image)
    assert str(dest) in str(exc.value) and "alpha" in str(exc.value)
    assert not dest.exists() and list(tmp_path.iterdir()) == []


def test_output_over_input_is_refused_unless_overwrite(tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(src)
    before = src.read_bytes()
    image = ImageData(np.ones((2, 2, 3), np.float32))
    with pytest.raises(ImageError, match="overwrite its input"):
        write_image(tmp_path / "." / "in.png", image, protect=(src,))
    assert src.read_bytes() == before
    write_image(src, image, protect=(src,), overwrite=True)
    assert src.read_bytes() != before


def _png_with_header(width: int, height: int, bit_depth: int = 8, colour: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_decompression_bomb_is_refused_before_decoding(tmp_path, bit_depth):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_with_header(100_000, 100_000, bit_depth))
    with pytest.raises(ImageError) as exc:
        read_image(path)
    message = str(exc.value)
    assert message.startswith(str(path)) and "decompression bomb" in message and "--max-pixels" in message


def test_max_pixels_limit_applies_to_normal_images(tmp_path):
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "a.png")
    with pytest.raises(ImageError, match="100 pixels exceeds the limit of 99"):
        read_image(tmp_path / "a.png", max_pixels=99)
    assert read_image(tmp_path / "a.png", max_pixels=100).size == (10, 10)


def _with_orientation(path: Path, arr: np.ndarray, orientation: int) -> None:
    """``arr`` (uint16) stored as ``path`` with an EXIF/TIFF orientation, in the container's own way."""
    if path.suffix == ".tif":
        tifffile.imwrite(path, arr, photometric="rgb", extratags=[(0x0112, 3, 1, orientation, True)])
        return
    h, w, c = arr.shape
    buf = io.BytesIO()
    png.Writer(w, h, greyscale=False, bitdepth=16).write(buf, arr.reshape(h, w * c))
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    exif = Image.Exif()
    exif[0x0112] = orientation
    chunks.insert(1, (b"eXIf", exif.tobytes()[6:]))
    with open(path, "wb") as f:
        png.write_chunks(f, chunks)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_16bit_orientation_is_applied_as_pillow_applies_it_at_8bit(tmp_path, suffix, orientation):
    stored8 = RNG.integers(0, 256, (3, 5, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored8).save(tmp_path / "ref.png", exif=exif.tobytes())
    _with_orientation(tmp_path / f"in{suffix}", stored8.astype(np.uint16) * 257, orientation)

    shown8 = np.round(read_image(tmp_path / "ref.png").pixels * 255).astype(np.uint16)
    image = read_image(tmp_path / f"in{suffix}")

    assert image.bit_depth == 16
    assert np.array_equal(np.round(image.pixels * 65535).astype(np.uint16), shown8 * 257)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_planar_16bit_tiff_is_read_at_full_depth(tmp_path, channels):
    arr = RNG.integers(0, 65536, (5, 7, channels), dtype=np.uint16)
    photometric = "rgb" if channels >= 3 else "minisblack"
    extra = {"extrasamples": ("unassalpha",)} if channels in (2, 4) else {}
    tifffile.imwrite(
        tmp_path / "in.tif",
        np.moveaxis(arr, -1, 0),
        photometric=photometric,
        planarconfig="separate",
        **extra,
    )

    image = read_image(tmp_path / "in.tif")

    assert image.bit_depth == 16 and image.pixels.shape == (5, 7, channels)
    assert np.array_equal(np.round(image.pixels * 65535).astype(np.uint16), arr)


def test_16bit_written_to_an_8bit_container_warns(tmp_path):
    from genedit_core.api import GeneditWarning

    image = ImageData(np.full((2, 3, 3), 0.5, np.float32), bit_depth=16)
    with pytest.warns(GeneditWarning, match=r"out\.webp: WEBP holds 8 bits per channel"):
        write_image(tmp_path / "out.webp", image)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        write_image(tmp_path / "out.png", image)  # PNG and TIFF keep 16 bits: no warning
        write_image(tmp_path / "out.tif", image)
