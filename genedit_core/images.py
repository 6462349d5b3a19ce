"""Image reading and writing with nothing lost: alpha, 16-bit depth, ICC profiles, EXIF orientation.

Pixels travel as float32 H×W×C arrays in 0–1 (C is 1, 2, 3 or 4; alpha last), plus the metadata
needed to write them back the way they came. Pillow reads and writes 8-bit and 16-bit grey; 16-bit
colour PNG goes through pypng and 16-bit TIFF through tifffile, because Pillow has no 16-bit RGB
mode. Outputs are written to a temporary file in the target folder and renamed into place, so an
interrupted run never leaves a half-written image.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageError

SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own bomb threshold (2× its warning level), ~13.4k × 13.4k
_IMAGE_DESCRIPTION = 0x010E  # EXIF/TIFF tag where JPEG, WebP and TIFF outputs keep their provenance


@dataclass
class ImageData:
    pixels: np.ndarray
    bit_depth: int = 8
    icc_profile: bytes | None = None
    format: str = "PNG"
    source: Path | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return self.pixels.shape[2]

    @property
    def has_alpha(self) -> bool:
        return self.channels in (2, 4)

    @property
    def size(self) -> tuple[int, int]:
        return self.pixels.shape[1], self.pixels.shape[0]

    def with_pixels(self, pixels: np.ndarray) -> ImageData:
        return replace(self, pixels=pixels)


def max_pixels_default() -> int:
    env = os.environ.get("GENEDIT_MAX_PIXELS")
    return int(env) if env else DEFAULT_MAX_PIXELS


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def read_image(path: str | Path, max_pixels: int | None = None) -> ImageData:
    """Decode ``path``; every failure is an :class:`ImageError` whose message names the file."""
    path = Path(path)
    limit = max_pixels_default() if max_pixels is None else max_pixels
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(32)
    try:
        # 16-bit RGB, grey+alpha and RGBA PNG: Pillow would reduce them to 8 bits
        if head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 4, 6):
            return _read_png16_colour(path, head, limit)
        if head[:4] in (b"II*\x00", b"MM\x00*"):
            data = _read_tiff16(path, limit)
            if data is not None:
                return data
        return _read_pillow(path, limit)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"{path}: cannot read image ({_one_line(exc)})") from None


def _check_size(path: Path, width: int, height: int, limit: int) -> None:
    if limit and width * height > limit:
        raise ImageError(
            f"{path}: {width}×{height} = {width * height:,} pixels exceeds the limit of {limit:,} "
            "(possible decompression bomb); raise it with --max-pixels if you trust the file"
        )


def _read_pillow(path: Path, limit: int) -> ImageData:
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = None  # our own check below runs before any decoding
    with Image.open(path) as im:
        _check_size(path, im.width, im.height, limit)
        fmt = im.format or "PNG"
        icc = im.info.get("icc_profile")
        im.load()
        im = ImageOps.exif_transpose(im)
        mode = im.mode
        if mode in ("I;16", "I;16B", "I;16L", "I;16N") or (mode == "I" and fmt in ("PNG", "TIFF")):
            arr = np.asarray(im, dtype=np.uint32).astype(np.float32) / 65535.0
            return ImageData(np.clip(arr, 0, 1)[..., None], 16, icc, fmt, path)
        if mode == "F":
            arr = np.asarray(im, dtype=np.float32)
            return ImageData(np.clip(arr, 0, 1)[..., None], 16, icc, fmt, path)
        if mode in ("1", "L", "P", "PA", "LA", "RGBA", "RGB", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa"):
            if mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode == "PA":
                im = im.convert("RGBA")
            elif mode == "1":
                im = im.convert("L")
            elif mode == "La":
                im = im.convert("LA")
            elif mode not in ("L", "LA", "RGB", "RGBA"):
                im = im.convert("RGB")
                icc = None if mode == "CMYK" else icc
        else:
            im = im.convert("RGBA" if "A" in mode else "RGB")
        arr = np.asarray(im, dtype=np.float32) / 255.0
        if arr.ndim == 2:
            arr = arr[..., None]
        return ImageData(arr, 8, icc, fmt, path)


def _read_png16_colour(path: Path, head: bytes, limit: int) -> ImageData:
    import png

    width, height = struct.unpack(">II", head[16:24])
    _check_size(path, width, height, limit)
    reader = png.Reader(filename=str(path))
    w, h, rows, info = reader.asDirect()
    planes = info["planes"]
    arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, planes)
    icc = _png_iccp(path)
    return ImageData(arr.astype(np.float32) / 65535.0, 16, icc, "PNG", path)


def _read_tiff16(path: Path, limit: int) -> ImageData | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if page.dtype is None or np.dtype(page.dtype).itemsize != 2:
            return None
        shape = page.shape
        height, width = shape[0], shape[1]
        _check_size(path, width, height, limit)
        arr = page.asarray()
        icc_tag = page.tags.get("InterColorProfile")
        icc = bytes(icc_tag.value) if icc_tag is not None else None
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        return None
    return ImageData(arr.astype(np.float32) / 65535.0, 16, icc, "TIFF", path)


def _png_iccp(path: Path) -> bytes | None:
    import png

    for ctype, data in png.Reader(filename=str(path)).chunks():
        if ctype == b"iCCP":
            name_end = data.index(b"\x00")
            return zlib.decompress(data[name_end + 2 :])
        if ctype == b"IDAT":
            return None
    return None


def output_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".webp": "WEBP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".bmp": "BMP",
    }.get(suffix, "")


def write_image(
    path: str | Path,
    image: ImageData,
    *,
    protect: tuple[Path, ...] = (),
    overwrite: bool = False,
    provenance: dict[str, Any] | None = None,
    quality: int = 95,
) -> Path:
    """Write ``image`` atomically; refuse to replace any path in ``protect`` unless ``overwrite``."""
    path = Path(path)
    fmt = output_format(path)
    if not fmt:
        raise ImageError(
            f"{path}: unsupported output type '{path.suffix}' (use {', '.join(SUPPORTED_SUFFIXES)})"
        )
    if not overwrite and path.exists():
        for p in protect:
            if p.exists() and os.path.samefile(p, path):
                raise ImageError(
                    f"{path}: output would overwrite its input; choose another -o/--out-dir or pass --overwrite"
                )
    if image.has_alpha and fmt in ("JPEG", "BMP"):
        raise ImageError(f"{path}: {fmt} cannot store the alpha channel; write .png, .webp or .tif instead")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        _encode(Path(tmp), fmt, image, provenance, quality)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get normal permissions
        os.replace(tmp, path)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"{path}: cannot write image ({_one_line(exc)})") from None
    return path


def _encode(tmp: Path, fmt: str, image: ImageData, provenance: dict[str, Any] | None, quality: int) -> None:
    from PIL import Image, PngImagePlugin

    pix = np.clip(image.pixels, 0.0, 1.0)
    channels = pix.shape[2]
    sixteen = image.bit_depth == 16 and fmt in ("PNG", "TIFF")
    text = json.dumps(provenance, sort_keys=True) if provenance else None
    if sixteen and fmt == "TIFF":
        import tifffile

        arr = np.round(pix * 65535.0).astype(np.uint16)
        photometric = "minisblack" if channels in (1, 2) else "rgb"
        extratags = [(34675, 7, None, image.icc_profile, True)] if image.icc_profile else []
        tifffile.imwrite(
            tmp,
            arr[..., 0] if channels == 1 else arr,
            photometric=photometric,
            extrasamples=("unassalpha",) if channels in (2, 4) else None,
            description=text,
            extratags=extratags,
        )
        return
    if sixteen and channels in (2, 3, 4):
        _write_png16(tmp, np.round(pix * 65535.0).astype(np.uint16), image.icc_profile, text)
        return
    if sixteen:  # 16-bit grey through Pillow
        im = Image.fromarray(np.round(pix[..., 0] * 65535.0).astype(np.uint16))
    else:
        arr = np.round(pix * 255.0).astype(np.uint8)
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
        im = Image.fromarray(arr[..., 0] if channels == 1 else arr, mode=mode)
    kwargs: dict[str, Any] = {}
    if image.icc_profile and fmt in ("PNG", "JPEG", "WEBP", "TIFF"):
        kwargs["icc_profile"] = image.icc_profile
    if fmt == "PNG" and text:
        meta = PngImagePlugin.PngInfo()
        meta.add_text("genedit", text)
        kwargs["pnginfo"] = meta
    elif fmt in ("JPEG", "WEBP") and text:
        exif = Image.Exif()
        exif[_IMAGE_DESCRIPTION] = text  # json.dumps output is ASCII, as EXIF text must be
        kwargs["exif"] = exif.tobytes()
    elif fmt == "TIFF" and text:
        kwargs["description"] = text
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    if fmt == "WEBP" and quality >= 100:
        kwargs["lossless"] = True
    im.save(tmp, format=fmt, **kwargs)


def _write_png16(tmp: Path, arr: np.ndarray, icc: bytes | None, text: str | None) -> None:
    import io

    import png

    h, w, c = arr.shape
    writer = png.Writer(w, h, greyscale=c in (1, 2), alpha=c in (2, 4), bitdepth=16)
    buf = io.BytesIO()
    writer.write(buf, arr.reshape(h, w * c))
    chunks = list(png.Reader(bytes=buf.getvalue()).chunks())
    extra = []
    if icc:
        extra.append((b"iCCP", b"icc\x00\x00" + zlib.compress(icc)))
    if text:
        extra.append((b"tEXt", b"genedit\x00" + text.encode("latin-1", "replace")))
    chunks = chunks[:1] + extra + chunks[1:]
    with open(tmp, "wb") as f:
        png.write_chunks(f, chunks)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def read_provenance(path: str | Path) -> dict[str, Any] | None:
    """The provenance genedit stored in an output, or ``None``.

    PNG keeps it in a ``genedit`` text chunk; JPEG, WebP and TIFF in the EXIF/TIFF
    ImageDescription, where it counts only as a JSON object with a ``genedit`` key (other software
    writes descriptions too). BMP has nowhere to keep it.
    """
    from PIL import Image

    with Image.open(path) as im:
        raw = im.info.get("genedit") or getattr(im, "text", {}).get("genedit")
        if raw:
            return json.loads(raw)
        if im.format not in ("JPEG", "WEBP", "TIFF", "MPO"):
            return None
        description = im.getexif().get(_IMAGE_DESCRIPTION)
    if not isinstance(description, str) or not description.startswith("{"):
        return None
    try:
        data = json.loads(description)
    except ValueError:
        return None
    return data if isinstance(data, dict) and "genedit" in data else None


def written_by_genedit(path: str | Path) -> bool:
    """Whether ``path`` is an image genedit wrote (its provenance names a genedit version).

    Used to leave a run's own outputs out when a folder is scanned again. Anything unreadable
    counts as not written by genedit, so that it is still reported as a bad input.
    """
    try:
        prov = read_provenance(path)
    except Exception:
        return False
    return bool(prov) and "genedit" in prov


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
