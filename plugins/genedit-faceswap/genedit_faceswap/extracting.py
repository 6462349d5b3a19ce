"""``extract`` over files and folders: aligned face crops plus a JSON record of every face.

Imports torch, so only command bodies and hooks import this module. The JSON (``faces.json``) is
what later stages need to put a swapped face back: each face's box, score, 5 landmarks, and the
2x3 transform from source pixels to crop pixels (pixel i spanning [i, i+1)).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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
    """The images named, and those directly inside the folders named, in a stable order."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                raise UsageError(f"{item}: no images in this folder ({', '.join(IMAGE_SUFFIXES)})")
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
) -> dict[str, Any]:
    """Detect and align every face of ``inputs`` into ``out_dir``; the record written, as a dict.

    Crops are ``STEM_NN.png`` (NN: the face's rank by score in its image). Images without a face
    are skipped and listed under ``"skipped"`` with the reason; nothing in ``out_dir`` is replaced.
    """
    files = image_files(inputs)
    out = Path(out_dir)
    if (out / RECORD).exists():
        raise UsageError(f"{out / RECORD}: exists; extract into another --out folder")
    model = load("mtcnn", weights=weights, device=device)
    out.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "model": "mtcnn",
        "weights": str(model.weights.origin) if model.weights is not None else None,
        "size": size,
        "padding": padding,
        "template": template(size, padding).tolist(),
        "faces": [],
        "skipped": [],
    }
    stems: dict[str, int] = {}
    for done, path in enumerate(files):
        if progress is not None:
            progress("detecting faces", done, len(files))
        try:
            image = to_tensor(read_image(path).pixels)
            crops, faces, matrices = extract(model.module, image, size, padding, min_face)
        except ImageError as exc:
            record["skipped"].append({"source": str(path), "reason": str(exc)})
            continue
        stem = path.stem if path.stem not in stems else f"{path.stem}-{stems[path.stem]}"
        stems[path.stem] = stems.get(path.stem, 0) + 1
        for i, (crop, matrix) in enumerate(zip(crops, matrices)):
            name = f"{stem}_{i:02d}.png"
            if (out / name).exists():
                raise GeneditError(
                    f"{out / name}: exists; kept as it was (extract into an empty --out folder)"
                )
            save_png(crop, out / name)
            record["faces"].append(
                {
                    "source": str(path),
                    "crop": name,
                    "index": i,
                    "score": round(float(faces.scores[i]), 5),
                    "box": [round(v, 2) for v in faces.boxes[i].tolist()],
                    "landmarks": [[round(v, 2) for v in p] for p in faces.landmarks[i].tolist()],
                    "transform": [[round(v, 6) for v in row] for row in matrix.tolist()],
                }
            )
    if progress is not None:
        progress("detecting faces", len(files), len(files))
    (out / RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return record
