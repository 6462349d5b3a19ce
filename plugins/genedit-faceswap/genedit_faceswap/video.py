"""Video in and out through imageio-ffmpeg, whose wheel ships an ffmpeg binary (nothing to install).

Imports torch, so only command bodies import this module. Frames come in as 1×3×H×W floats in
0-1, one at a time (a long video never sits in memory). Output is written to a hidden temporary
file beside the destination and renamed into place only when complete, so a failed conversion
leaves no half-written video; the provenance genedit records for images goes into the
container's ``comment`` tag.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genedit_core.sdk import ImageError, UsageError

VIDEO_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".avi": "avi",
    ".webm": "webm",
}


def is_video(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_FORMATS


@dataclass
class VideoInfo:
    fps: float
    size: tuple[int, int]  # width, height
    frames: int | None  # estimated from the duration; None when the container does not say


def _ffmpeg() -> Any:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise UsageError("video needs imageio-ffmpeg: pip install imageio-ffmpeg") from None
    return imageio_ffmpeg


def _cause(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1][:200] if lines else type(exc).__name__


class Frames:
    """A video's frames as 1×3×H×W floats in 0-1, decoded one at a time; ``close()`` stops ffmpeg
    whether or not any frame was read."""

    def __init__(self, path: Path, reader: Any, width: int, height: int) -> None:
        self.path, self.reader, self.shape = path, reader, (height, width, 3)

    def __iter__(self) -> Iterator[torch.Tensor]:
        try:
            for raw in self.reader:
                pixels = np.frombuffer(raw, np.uint8).reshape(self.shape)
                yield torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 255
        except (OSError, RuntimeError) as exc:
            raise ImageError(f"{self.path}: cannot decode this video ({_cause(exc)})") from exc
        finally:
            self.close()

    def close(self) -> None:
        self.reader.close()


def probe_video(path: str | Path) -> VideoInfo:
    """The video's frame rate, size and (estimated) frame count; an ImageError when undecodable."""
    info, frames = open_video(path)
    frames.close()
    return info


def open_video(path: str | Path) -> tuple[VideoInfo, Frames]:
    """The video's frame rate and size, and its frames; an ImageError naming the file when ffmpeg
    cannot decode it (checked here, before any output is made)."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    reader = _ffmpeg().read_frames(str(path))
    try:
        meta = next(reader)
    except (OSError, RuntimeError, StopIteration) as exc:
        reader.close()
        raise ImageError(f"{path}: cannot decode this video ({_cause(exc)})") from exc
    width, height = (int(v) for v in meta["size"])
    fps = float(meta.get("fps") or 0)
    if fps <= 0:
        reader.close()
        raise ImageError(f"{path}: cannot decode this video (no frame rate)")
    duration = float(meta.get("duration") or 0)
    info = VideoInfo(fps=fps, size=(width, height), frames=round(duration * fps) or None)

    return info, Frames(path, reader, width, height)


def write_video(
    path: str | Path, frames: Iterable[torch.Tensor], fps: float, provenance: dict[str, Any] | None = None
) -> int:
    """Write ``frames`` (1×3×H×W floats in 0-1, all one size) as H.264 at ``fps``; the count written.

    The file appears at ``path`` only once complete; an existing ``path`` is refused.
    """
    path = Path(path)
    fmt = VIDEO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: a video output needs one of {', '.join(VIDEO_FORMATS)}")
    if path.exists():
        raise ImageError(f"{path}: exists; kept as it was (choose another -o)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    params = ["-f", fmt]
    if provenance:
        params += ["-metadata", "comment=" + json.dumps(provenance, sort_keys=True)]
    codec = "libvpx-vp9" if fmt == "webm" else "libx264"
    writer = None
    count = 0
    try:
        for frame in frames:
            pixels = (frame[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
            if writer is None:
                h, w = pixels.shape[:2]
                writer = _ffmpeg().write_frames(
                    str(tmp), (w, h), fps=fps, codec=codec, quality=8, macro_block_size=2,
                    output_params=params, ffmpeg_log_level="error",
                )  # fmt: skip
                writer.send(None)
            writer.send(np.ascontiguousarray(pixels))
            count += 1
        if writer is None:
            raise ImageError(f"{path}: no frames to write")
        writer.close()
        writer = None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; outputs get normal permissions
        os.replace(tmp, path)
    finally:
        if writer is not None:
            with suppress(Exception):
                writer.close()
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
    return count


def read_comment(path: str | Path) -> dict[str, Any] | None:
    """The provenance :func:`write_video` stored in ``path``'s comment tag, or None."""
    import subprocess

    exe = _ffmpeg().get_ffmpeg_exe()
    done = subprocess.run(
        [exe, "-v", "error", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("comment="):
            text = line[len("comment=") :].replace("\\=", "=").replace("\\;", ";").replace("\\#", "#")
            with suppress(ValueError):
                return json.loads(text.replace("\\\\", "\\"))
    return None
