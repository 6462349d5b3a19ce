"""Image reading and writing with nothing lost: alpha, 16-bit depth, ICC profiles, EXIF orientation.

Pixels travel as float32 H×W×C arrays in 0–1 (C is 1, 2, 3 or 4; alpha last), plus the metadata
needed to write them back the way they came. Pillow reads and writes 8-bit and 16-bit grey; 16-bit
colour PNG goes through pypng and 16-bit TIFF through tifffile, because Pillow has no 16-bit RGB
mode. Outputs are written to a temporary file in the target folder and renamed into place, so an
interrupted run never leaves a half-written image.

Every output goes through one writer (:func:`atomic_output`): it creates the folder, writes a
temporary ``.<name>.genedit-<pid>.<random>.part`` file beside the target, and puts it in place
only when it is complete. Any OS error on the way (a folder that is a file, a read-only disk, a
name too long) becomes an :class:`~genedit_core.errors.ImageError` naming the output; the
temporary file is removed even on Ctrl-C, and what a killed process left behind is removed the
next time genedit writes into that folder.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
import struct
import tempfile
import time
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ._limits import positive_int_env
from .errors import ImageError, OutputExistsError

SUPPORTED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
DEFAULT_MAX_PIXELS = 178_956_970  # Pillow's own bomb threshold (2× its warning level), ~13.4k × 13.4k
_IMAGE_DESCRIPTION = 0x010E  # EXIF/TIFF tag where JPEG, WebP and TIFF outputs keep their provenance
_ORIENTATION = 0x0112  # EXIF/TIFF tag: how the stored pixels are turned for display (1–8)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Decoders Pillow may use: a file is read by its content, and this keeps a renamed PSD, EPS (which runs
# Ghostscript) or any other of Pillow's formats from being decoded behind a supported suffix.
_PILLOW_FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
#: zlib level of the PNGs genedit writes (see ``_encode``); lossless at every level.
PNG_COMPRESS_LEVEL = 1

# Caps on what compressed metadata may inflate to (ICC profile, text, EXIF, XMP): one chunk, and all
# chunks of a file together. Real ICC profiles stay under a few MB; Pillow's own text budget is 64 MB.
_MAX_METADATA_BYTES = 16 << 20
_MAX_METADATA_TOTAL = 64 << 20
_INFLATE_STEP = 1 << 20  # inflation works in pieces this big, so a bomb never sits in memory whole
# Temporary files of the writer: ".<name>.genedit-<pid>.<8 random>.part" (the name cut to 100
# characters, so a temporary name is never too long where the final one fits); the older form
# ".<image name>.<8 random>.part" is recognised too. A leftover is removed when its process is gone
# and it has not changed for _LEFTOVER_QUIET_S, or when it is older than _LEFTOVER_MAX_AGE_S.
_TEMP_RE = re.compile(r"^\..+\.genedit-(\d+)\.[a-z0-9_]{8}\.part$")
_OLD_TEMP_RE = re.compile(r"^\..+\.(png|jpe?g|webp|tiff?|bmp|gif)\.[a-z0-9_]{8}\.part$", re.IGNORECASE)
_LEFTOVER_QUIET_S = 10.0
_LEFTOVER_MAX_AGE_S = 24 * 3600.0
_OLD_LEFTOVER_AGE_S = 3600.0  # the older form names no process
_swept: set[str] = set()  # folders already cleaned of leftovers by this process
_log = logging.getLogger("genedit.images")


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
    """``GENEDIT_MAX_PIXELS`` when set (a positive whole number, ``_`` allowed), else the default."""
    return positive_int_env("GENEDIT_MAX_PIXELS", DEFAULT_MAX_PIXELS, "pixels")


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
    mode = path.stat().st_mode  # follows links; a FIFO or a device would block or never end
    if not stat.S_ISREG(mode):
        kinds = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}
        raise ImageError(f"{path}: {kinds.get(stat.S_IFMT(mode), 'not a regular file')}, not an image file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(32)
    try:
        image = _decode(path, head, limit)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"{path}: cannot read image ({_one_line(exc)})") from None
    image.source = path  # so a later error about this image (a model's bad output) can name it
    return image


def _decode(path: Path, head: bytes, limit: int) -> ImageData:
    if head[:8] == _PNG_SIGNATURE:
        # 16-bit RGB, grey+alpha and RGBA PNG: Pillow would reduce them to 8 bits, so pypng decodes
        # them, and pypng inflates without a limit: its image data is checked against the header too
        sixteen = len(head) > 25 and head[24] == 16 and head[25] in (2, 4, 6)
        meta = _scan_png(path, limit, check_pixel_data=sixteen)
        if sixteen:
            return _read_png16_colour(path, meta)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        data = _read_tiff16(path, limit)
        if data is not None:
            return data
    return _read_pillow(path, limit)


def _check_size(path: Path, width: int, height: int, limit: int) -> None:
    if limit and width * height > limit:
        raise ImageError(
            f"{path}: {width}×{height} = {width * height:,} pixels exceeds the limit of {limit:,} "
            "(possible decompression bomb); raise it with --max-pixels if you trust the file"
        )


def _read_pillow(path: Path, limit: int) -> ImageData:
    from PIL import Image, ImageOps, PngImagePlugin

    Image.MAX_IMAGE_PIXELS = None  # our own check below runs before any decoding
    PngImagePlugin.MAX_TEXT_CHUNK = _MAX_METADATA_BYTES  # the cap _scan_png applies, so both agree
    with Image.open(path, formats=_PILLOW_FORMATS) as im:
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


def _read_png16_colour(path: Path, meta: _PngMeta) -> ImageData:
    import png

    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    planes = info["planes"]
    arr = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, planes)
    arr = _apply_orientation(arr, meta.orientation)
    return ImageData(arr.astype(np.float32) / 65535.0, 16, meta.icc, "PNG", path)


def _read_tiff16(path: Path, limit: int) -> ImageData | None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        if page.dtype is None or np.dtype(page.dtype).itemsize != 2:
            return None
        # From the header, before any strip is decoded: a planar file keeps its samples in separate
        # planes, so width and height are read from their own fields, never from the array's shape.
        _check_size(path, page.imagewidth, page.imagelength, limit)
        if page.imagedepth > 1:
            raise ImageError(f"{path}: volumetric TIFF ({page.imagedepth} slices) is not supported")
        if page.samplesperpixel > 4:
            raise ImageError(
                f"{path}: TIFF with {page.samplesperpixel} samples per pixel is not supported (1 to 4)"
            )
        _check_tiff_segments(path, tif, page)
        # shaped: (separate planes, depth, height, width, interleaved samples)
        arr = page.asarray(maxworkers=1).reshape(page.shaped)[:, 0]
        arr = np.moveaxis(arr[..., 0], 0, -1) if arr.shape[0] > 1 else arr[0]
        icc_tag = page.tags.get("InterColorProfile")
        icc = bytes(icc_tag.value) if icc_tag is not None else None
        orientation_tag = page.tags.get(_ORIENTATION)
        orientation = int(orientation_tag.value) if orientation_tag is not None else 1
    arr = _apply_orientation(arr, orientation)
    return ImageData(arr.astype(np.float32) / 65535.0, 16, icc, "TIFF", path)


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels as they are meant to be shown: the EXIF/TIFF Orientation (1–8) undone, as Pillow's
    ``exif_transpose`` does for the images it decodes, so that every decoder agrees."""
    if orientation in (5, 6, 7, 8):
        arr = arr.swapaxes(0, 1)
    if orientation in (2, 3, 6, 7):
        arr = arr[:, ::-1]
    if orientation in (3, 4, 7, 8):
        arr = arr[::-1]
    return arr


@dataclass
class _PngMeta:
    icc: bytes | None = None
    orientation: int = 1


class _TooLarge(Exception):
    pass


class _Inflater:
    """zlib inflation that gives up as soon as its output passes ``cap`` bytes.

    It inflates in pieces of ``_INFLATE_STEP`` through ``decompressobj(max_length)``, so a stream
    that would inflate to gigabytes costs at most ``cap`` (kept) or one piece (counted only).
    """

    def __init__(self, cap: int, keep: bool = False) -> None:
        self._d = zlib.decompressobj()
        self.cap = cap
        self.size = 0
        self._kept: list[bytes] | None = [] if keep else None

    def feed(self, data: bytes) -> None:
        buf = data
        while buf and not self._d.eof:
            self._take(self._d.decompress(buf, _INFLATE_STEP))
            buf = self._d.unconsumed_tail

    def finish(self) -> bytes:
        while not self._d.eof:  # output zlib holds back once all input is in
            out = self._d.decompress(b"", _INFLATE_STEP)
            if not out:
                break
            self._take(out)
        return b"".join(self._kept) if self._kept is not None else b""

    def _take(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.cap:
            raise _TooLarge
        if self._kept is not None:
            self._kept.append(out)


def _png_raw_size(width: int, height: int, bit_depth: int, colour: int, interlace: int) -> int:
    """Bytes the image data of a PNG inflates to: each row of each pass, plus its filter byte."""
    planes = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}.get(colour, 4)
    passes = (
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        if interlace
        else [(0, 0, 1, 1)]
    )
    total = 0
    for x0, y0, dx, dy in passes:
        w, h = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if w > 0 and h > 0:
            total += h * (1 + -(-(w * planes * bit_depth) // 8))
    return total


def _scan_png(path: Path, limit: int, check_pixel_data: bool) -> _PngMeta:
    """Walk a PNG's chunks before any decoder does, and refuse it if it is a bomb.

    The header's size is checked against ``limit``; each compressed metadata chunk (``iCCP``,
    ``zTXt``, compressed ``iTXt``, which is where EXIF and XMP travel as text) is inflated with a cap;
    with ``check_pixel_data`` the image data must inflate to no more than its header promises.
    Returns the ICC profile and the ``eXIf`` orientation, which pypng does not read.
    """
    meta = _PngMeta()
    metadata_left = _MAX_METADATA_TOTAL
    pixel_data: _Inflater | None = None
    try:
        with open(path, "rb") as f:
            f.seek(len(_PNG_SIGNATURE))
            while True:
                head = f.read(8)
                if len(head) < 8:
                    break  # truncated: the decoder reports it
                length, kind = struct.unpack(">I4s", head)
                if kind not in (b"IHDR", b"iCCP", b"zTXt", b"iTXt", b"eXIf") and not (
                    kind == b"IDAT" and pixel_data is not None
                ):
                    if kind == b"IEND":
                        break
                    f.seek(length + 4, os.SEEK_CUR)
                    continue
                data = f.read(length)
                f.seek(4, os.SEEK_CUR)  # CRC: the decoder checks it
                if kind == b"IHDR" and len(data) >= 13:
                    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[:13])
                    _check_size(path, width, height, limit)
                    if check_pixel_data:
                        pixel_data = _Inflater(_png_raw_size(width, height, depth, colour, interlace))
                elif kind == b"IDAT" and pixel_data is not None:
                    pixel_data.feed(data)
                elif kind == b"eXIf":
                    meta.orientation = _exif_orientation(data)
                elif kind in (b"iCCP", b"zTXt", b"iTXt"):
                    size, icc = _inflate_metadata(path, kind, data, min(_MAX_METADATA_BYTES, metadata_left))
                    metadata_left -= size
                    if meta.icc is None:
                        meta.icc = icc
        if pixel_data is not None:
            pixel_data.finish()
    except _TooLarge:
        assert pixel_data is not None
        raise ImageError(
            f"{path}: image data inflates beyond the {pixel_data.cap:,} bytes its header declares "
            "(possible decompression bomb)"
        ) from None
    return meta


def _inflate_metadata(path: Path, kind: bytes, data: bytes, cap: int) -> tuple[int, bytes | None]:
    """Inflate one compressed metadata chunk with a cap: its inflated size, and the ICC profile if
    it is an ``iCCP`` chunk. Text that does not inflate is skipped, as Pillow skips it; a damaged
    ICC profile is an error, since dropping it would change the colours."""
    compressed = _png_compressed_text(kind, data)
    if compressed is None:
        return 0, None
    inflater = _Inflater(cap, keep=kind == b"iCCP")
    try:
        inflater.feed(compressed)
        inflated = inflater.finish()
    except _TooLarge:
        what = "ICC profile" if kind == b"iCCP" else "text"
        raise ImageError(
            f"{path}: {what} ({kind.decode()} chunk) inflates beyond {cap:,} bytes "
            "(possible decompression bomb)"
        ) from None
    except zlib.error as exc:
        if kind == b"iCCP":
            raise ImageError(f"{path}: damaged ICC profile ({exc})") from None
        return inflater.size, None
    return inflater.size, inflated if kind == b"iCCP" else None


def _png_compressed_text(kind: bytes, data: bytes) -> bytes | None:
    """The zlib stream inside an ``iCCP``, ``zTXt`` or compressed ``iTXt`` chunk; ``None`` if none."""
    name_end = data.find(b"\x00")
    if name_end < 0:
        return None
    if kind in (b"iCCP", b"zTXt"):
        return data[name_end + 2 :]  # after the name's NUL: one compression-method byte
    if len(data) < name_end + 3 or data[name_end + 1] != 1:  # iTXt: compression flag, then method
        return None
    rest = data[name_end + 3 :]
    language_end = rest.find(b"\x00")
    keyword_end = rest.find(b"\x00", language_end + 1) if language_end >= 0 else -1
    return rest[keyword_end + 1 :] if keyword_end >= 0 else None


def _exif_orientation(data: bytes) -> int:
    """The Orientation in an EXIF block; 1 (as stored) if there is none or the block is unreadable."""
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(data)
        value = int(exif.get(_ORIENTATION, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


# TIFF compressions whose decoders tifffile takes from the standard library when imagecodecs is not
# installed; those ignore the output size tifffile passes them, so _check_tiff_segments caps them.
_TIFF_DEFLATE = (8, 32946, 50013)
_TIFF_LZMA = 34925
_TIFF_PACKBITS = 32773


def _check_tiff_segments(path: Path, tif: Any, page: Any) -> None:
    """Refuse a TIFF whose compressed strips or tiles decode to more than their declared size.

    tifffile inflates each strip or tile whole, so a 1 MB strip of a 64×64 image can become 1 GB
    in memory. Each segment is inflated here first, in pieces and counted only, against the bytes
    its strip or tile holds. A tile may be padded past the image's edge, but not beyond 16 MiB more
    than the whole image, so a huge tile on a tiny image cannot carry a bomb either.
    """
    compression = page.compression
    if compression not in (*_TIFF_DEFLATE, _TIFF_LZMA, _TIFF_PACKBITS):
        return
    samples = page.samplesperpixel if page.planarconfig == 1 else 1
    if page.is_tiled:
        segment = page.tiledepth * page.tilelength * page.tilewidth * samples * 2
        image = page.imagedepth * page.imagelength * page.imagewidth * page.samplesperpixel * 2
        segment = min(segment, max(image, 0) + (16 << 20))
    else:
        segment = page.rowsperstrip * page.imagewidth * samples * 2
    fh = tif.filehandle
    for offset, count in zip(page.dataoffsets, page.databytecounts):
        if not count:
            continue
        fh.seek(offset)
        data = fh.read(count)
        if _decoded_size(compression, data, segment) > segment:
            raise ImageError(
                f"{path}: a compressed strip or tile inflates beyond the {segment:,} bytes the header "
                "declares for it (possible decompression bomb)"
            )


def _decoded_size(compression: int, data: bytes, cap: int) -> int:
    """How many bytes ``data`` decodes to, counted no further than just past ``cap``."""
    if compression in _TIFF_DEFLATE:
        inflater = _Inflater(cap)
        try:
            inflater.feed(data)
            inflater.finish()
        except _TooLarge:
            return cap + 1
        return inflater.size
    if compression == _TIFF_LZMA:
        import lzma

        d = lzma.LZMADecompressor()
        size = len(d.decompress(data, _INFLATE_STEP))
        while size <= cap and not d.eof and not d.needs_input:
            size += len(d.decompress(b"", _INFLATE_STEP))
        return size
    size = i = 0  # PackBits: a header byte, then a literal run or one byte repeated
    while i < len(data) and size <= cap:
        n = data[i]
        if n < 128:
            size, i = size + n + 1, i + n + 2
        elif n > 128:
            size, i = size + 257 - n, i + 2
        else:
            i += 1
    return size


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
    exist_ok: bool = True,
) -> Path:
    """Write ``image`` atomically; refuse to replace any path in ``protect`` unless ``overwrite``.

    With ``exist_ok=False`` an existing file at ``path`` is kept and :class:`OutputExistsError`
    raised (checked when the new image is put in place, so a file that appeared meanwhile is kept
    too). Every failure is an :class:`ImageError` naming ``path``.
    """
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
    with atomic_output(path, exist_ok=exist_ok) as tmp:
        _encode(tmp, fmt, image, provenance, quality)
    if image.bit_depth == 16 and fmt not in ("PNG", "TIFF"):
        from .api import GeneditWarning

        warnings.warn(
            f"{path}: {fmt} holds 8 bits per channel, so this 16-bit image was written at 8 bits "
            "(write .png or .tif to keep 16)",
            GeneditWarning,
            stacklevel=2,
        )
    return path


def prepare_output_folder(folder: str | Path, *, for_path: Path | None = None) -> Path:
    """Create ``folder`` (and its parents) and remove what interrupted genedit writes left in it.

    Called before any work on an output, so a folder that cannot exist costs no computation; the
    :class:`ImageError` names ``for_path`` (the output) when given, else the folder, and the cause.
    """
    folder = make_folder(folder, for_path=for_path)
    key = os.path.realpath(folder)
    if key not in _swept:
        _swept.add(key)
        _remove_leftovers(folder)
    return folder


def make_folder(folder: str | Path, *, for_path: Path | None = None) -> Path:
    """``mkdir -p`` whose failure is one :class:`ImageError` naming ``for_path`` (or the folder)
    and the cause: a file where a folder should be, a read-only disk, a name too long."""
    folder = Path(folder)
    who = for_path if for_path is not None else folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = _file_in_the_way(folder)
        if blocker is not None:
            raise ImageError(f"{who}: cannot write: {blocker} is a file, not a folder") from exc
        raise ImageError(f"{who}: cannot create folder {folder} ({_os_cause(exc)})") from exc
    return folder


def check_output_path(path: str | Path) -> None:
    """Refuse, before any work, an output that cannot be written for a reason visible now: a file
    where a folder should be, a folder with the output's name, a name too long for the file system.

    Nothing is created, so an input that then fails to read leaves no empty folder behind; what
    only an attempt can tell (a read-only disk, no permission) is found by the writer itself.
    """
    path = Path(path)
    blocker = _file_in_the_way(path.parent)
    if blocker is not None:
        raise ImageError(f"{path}: cannot write: {blocker} is a file, not a folder")
    if os.path.isdir(path):
        raise ImageError(f"{path}: cannot write (a folder has this name)")
    existing = next((p for p in path.parents if os.path.isdir(p)), None)
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX") if existing is not None else 255
    except (OSError, ValueError, AttributeError):  # no pathconf (Windows) or no answer
        return
    too_long = [p.name for p in (path, *path.parents) if len(os.fsencode(p.name)) > name_max]
    if too_long:
        raise ImageError(f"{path}: cannot write (File name too long)")


@contextmanager
def atomic_output(path: str | Path, *, exist_ok: bool = True) -> Iterator[Path]:
    """The one way genedit writes an output file: yield a temporary path beside ``path``; when the
    block ends normally, put the complete file in place.

    The temporary file is removed however the block ends (an error, Ctrl-C). Every OS error
    becomes an :class:`ImageError` naming ``path``, and so does any error of the block's own
    (an encoder's). ``exist_ok=False`` keeps an existing ``path`` (:class:`OutputExistsError`):
    the file is hard-linked into place, which fails if the name is taken, so nothing that
    appears at ``path`` meanwhile is replaced either.
    """
    path = Path(path)
    prepare_output_folder(path.parent, for_path=path)
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{path.name[:100]}.genedit-{os.getpid()}.", suffix=".part", dir=path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise ImageError(f"{path}: cannot write ({_os_cause(exc)})") from exc
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get normal permissions
        _put_in_place(tmp, path, exist_ok)
    except ImageError:
        raise
    except Exception as exc:
        raise ImageError(f"{path}: cannot write ({_os_cause(exc)})") from exc
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def _put_in_place(tmp: Path, path: Path, exist_ok: bool) -> None:
    if os.path.isdir(path):
        raise ImageError(f"{path}: cannot write (a folder has this name)")
    if exist_ok:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if the name is taken: no window between a check and a rename
    except FileExistsError:
        raise OutputExistsError(path) from None
    except OSError as exc:
        no_links = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS)
        if exc.errno not in no_links:
            raise
        if os.path.lexists(path):  # a file system without hard links: check, then rename
            raise OutputExistsError(path) from None
        os.replace(tmp, path)


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing path at or above ``folder`` when it is not a folder (e.g. --out-dir a file)."""
    for p in (folder, *folder.parents):
        if os.path.lexists(p):
            return None if os.path.isdir(p) else p
    return None


def _remove_leftovers(folder: Path) -> None:
    """Delete temporary files of earlier writers that were killed (SIGKILL, power loss)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    now = time.time()
    removed = 0
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(".part")):
            continue
        ours = _TEMP_RE.match(name)
        if ours is None and _OLD_TEMP_RE.match(name) is None:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if ours is not None:
                stale = age > _LEFTOVER_MAX_AGE_S or (
                    age > _LEFTOVER_QUIET_S and not _process_alive(int(ours.group(1)))
                )
            else:
                stale = age > _OLD_LEFTOVER_AGE_S
            if stale:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    if removed:
        _log.info("%s: removed %d temporary file(s) left by an interrupted write", folder, removed)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill would end the process there; rely on the age limit
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _os_cause(exc: BaseException) -> str:
    """The cause of a write failure, without the temporary file's name."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return _one_line(exc)


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
    if fmt == "PNG":
        # zlib's fastest level, as OpenCV's imwrite (and so Real-ESRGAN) writes PNGs: a 1024² photo
        # encodes in about 0.16 s instead of Pillow's default level 6's 0.5 s, for files ~13% larger.
        kwargs["compress_level"] = PNG_COMPRESS_LEVEL
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
