"""Turning command-line inputs into files and choosing output paths that never clobber inputs."""

from __future__ import annotations

import glob
from pathlib import Path

from genedit_core.errors import UsageError
from genedit_core.images import is_image_path


def expand_inputs(items: list[str], recursive: bool = False) -> list[Path]:
    """Files as given; directories expanded to their images; unexpanded globs matched here."""
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            found += sorted(q for q in p.glob(pattern) if q.is_file() and is_image_path(q))
        elif any(ch in item for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"{item}: no file matches this pattern")
            found += [m for m in matches if m.is_file()]
        else:
            found.append(p)  # missing files are reported per file, not fatal to the batch
    if not found:
        raise UsageError("no input images found in: " + " ".join(items))
    return found


def output_path(src: Path, *, output: str | None, out_dir: str | None, tag: str, ext: str | None) -> Path:
    suffix = ext if ext else src.suffix
    if not suffix.startswith("."):
        suffix = "." + suffix
    if output:
        return Path(output)
    folder = Path(out_dir) if out_dir else src.parent
    return folder / f"{src.stem}_{tag}{suffix.lower()}"
