"""``extract`` over files and folders: aligned face crops plus a JSON record of every face.

Imports torch, so only command bodies and hooks import this module. The JSON (``faces.json``) is
what later stages need to put a swapped face back: each face's box, score, 5 landmarks, and the
2x3 transform from source pixels to crop pixels (pixel i spanning [i, i+1)).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genedit_core.sdk import GeneditError, ImageError, UsageError, load, read_image

from .align import template
from .build import extract

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")
RECORD = "faces.json"


def image_files(inputs: Iterable[str | Path]) -> list[Path]:
    """The images and videos named, and those directly inside the folders named, in a stable order."""
    from .video import VIDEO_FORMATS

    suffixes = IMAGE_SUFFIXES + tuple(VIDEO_FORMATS)
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in suffixes and p.is_file())
            if not found:
                raise UsageError(f"{item}: no images or videos in this folder ({', '.join(suffixes)})")
            files += found
        elif item.exists():
            files.append(item)
        else:
            raise UsageError(f"{item}: no such file or folder")
    return files


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """1 x 3 x H x W floats from the reader's H x W x C floats in 0-1 (grey made RGB, alpha dropped)."""
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).permute(2, 0, 1)[None]
    x = x[:, :1].expand(-1, 3, -1, -1) if x.shape[1] in (1, 2) else x[:, :3]
    return x.contiguous()


def save_png(crop: torch.Tensor, path: Path) -> None:
    from PIL import Image

    pixels = (crop[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(pixels).save(path)


def _frames(path: Path) -> Iterator[tuple[str, str, Callable[[], torch.Tensor]]]:
    """(source label, crop stem, reader) per picture of ``path``: one for an image, one per
    frame of a video (``clip.mp4#12``, stem ``clip_f000012``). An undecodable video raises."""
    from .video import is_video, open_video

    if not is_video(path):
        yield str(path), path.stem, lambda: to_tensor(read_image(path).pixels)
        return
    _, frames = open_video(path)
    for i, frame in enumerate(frames):
        yield f"{path}#{i}", f"{path.stem}_f{i:06d}", lambda frame=frame: frame


def extract_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    *,
    size: int = 256,
    padding: float = 0.25,
    min_face: int = 20,
    weights: str | None = None,
    device: str = "cpu",
    progress: Callable[[str, int | None, int | None], None] | None = None,
    detector: str = "mtcnn",
    dlib_model: str | None = None,
) -> dict[str, Any]:
    """Detect and align every face of ``inputs`` (images, videos, folders) into ``out_dir``; the
    record written, as a dict.

    Crops are ``STEM_NN.png`` (NN: the face's rank by score in its image; a video frame's stem is
    ``STEM_fFFFFFF``). Pictures without a face, and files that cannot be read, are skipped and
    listed under ``"skipped"`` with the reason; nothing in ``out_dir`` is replaced. When no face
    is found at all, nothing is written (an ``out_dir`` made here is removed) and a GeneditError
    says so in one line.
    """
    from .detectors import DETECTORS

    if detector not in DETECTORS:
        raise UsageError(f"--detector {detector}: expected one of {', '.join(DETECTORS)}")
    files = image_files(inputs)
    out = Path(out_dir)
    if (out / RECORD).exists():
        raise UsageError(f"{out / RECORD}: exists; extract into another --out folder")
    model = load("mtcnn", weights=weights, device=device)
    made = not out.exists()
    record: dict[str, Any] = {
        "model": "mtcnn",
        "detector": detector,
        "weights": str(model.weights.origin) if model.weights is not None else None,
        "size": size,
        "padding": padding,
        "template": template(size, padding).tolist(),
        "faces": [],
        "skipped": [],
    }
    total = sum(_pictures(p) for p in files)
    stems: dict[str, int] = {}
    done = 0
    for path in files:
        try:
            for source, base, read in _frames(path):
                if progress is not None:
                    progress("detecting faces", done, max(total, done))
                done += 1
                try:
                    image = read()
                    crops, faces, matrices = extract(
                        model.module, image, size, padding, min_face, detector, dlib_model
                    )
                except ImageError as exc:
                    record["skipped"].append({"source": source, "reason": str(exc)})
                    continue
                stem = base if base not in stems else f"{base}-{stems[base]}"
                stems[base] = stems.get(base, 0) + 1
                out.mkdir(parents=True, exist_ok=True)
                for i, (crop, matrix) in enumerate(zip(crops, matrices)):
                    _save_face(out, record, source, stem, i, crop, faces, matrix)
        except ImageError as exc:  # a video that cannot be decoded
            record["skipped"].append({"source": str(path), "reason": str(exc)})
    if progress is not None:
        progress("detecting faces", done, done)
    if not record["faces"]:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        unread = [s for s in record["skipped"] if "no face found" not in s["reason"]]
        why = f"; {len(unread)} could not be read ({unread[0]['reason']})" if unread else ""
        raise GeneditError(f"no face found in {done} picture(s) from {len(files)} input(s){why}")
    (out / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record


def _pictures(path: Path) -> int:
    """How many pictures ``path`` holds, for the progress bar: a video's frames (estimated), else 1."""
    from .video import is_video, probe_video

    if not is_video(path):
        return 1
    try:
        return probe_video(path).frames or 1
    except ImageError:
        return 1


def _save_face(
    out: Path,
    record: dict[str, Any],
    source: str,
    stem: str,
    i: int,
    crop: torch.Tensor,
    faces: Any,
    matrix: Any,
) -> None:
    name = f"{stem}_{i:02d}.png"
    if (out / name).exists():
        raise GeneditError(f"{out / name}: exists; kept as it was (extract into an empty --out folder)")
    save_png(crop, out / name)
    record["faces"].append(
        {
            "source": source,
            "crop": name,
            "index": i,
            "score": round(float(faces.scores[i]), 5),
            "box": [round(v, 2) for v in faces.boxes[i].tolist()],
            "landmarks": [[round(v, 2) for v in p] for p in faces.landmarks[i].tolist()],
            "transform": [[round(v, 6) for v in row] for row in matrix.tolist()],
        }
    )
