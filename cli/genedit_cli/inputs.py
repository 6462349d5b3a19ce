"""Turning command-line inputs into files and choosing output paths that never clobber inputs.

Outputs go to ``results/`` in the current folder unless ``--out-dir`` or ``-o`` says otherwise, so
a second run on the same folder never sees the first run's outputs as new inputs. Images genedit
wrote itself (recognised by their provenance) are also left out when a folder or pattern is
scanned, which covers outputs written next to their inputs by older versions or by ``--out-dir .``.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from genedit_core.errors import UsageError
from genedit_core.images import is_image_path, written_by_genedit

DEFAULT_OUT_DIR = "results"


@dataclass
class Inputs:
    """The files to process, the genedit outputs left out, and where each file sits below a
    scanned folder (so ``--recursive`` keeps sub-folders apart in the output folder)."""

    files: list[Path]
    skipped: list[Path] = field(default_factory=list)
    subdirs: dict[Path, Path] = field(default_factory=dict)


def expand_inputs(items: list[str], recursive: bool = False) -> Inputs:
    """Files as given; directories expanded to their images; unexpanded globs matched here.

    Files named one by one are always taken. Files found by scanning a folder or matching a
    pattern are taken unless genedit wrote them.
    """
    found = Inputs(files=[])

    def scanned(path: Path, subdir: Path | None = None) -> None:
        if written_by_genedit(path):
            found.skipped.append(path)
            return
        found.files.append(path)
        if subdir is not None and subdir != Path("."):
            found.subdirs[path] = subdir

    for item in items:
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            for q in sorted(q for q in p.glob(pattern) if q.is_file() and is_image_path(q)):
                scanned(q, q.parent.relative_to(p))
        elif any(ch in item for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"{item}: no file matches this pattern")
            for m in matches:
                if m.is_file():
                    scanned(m)
        else:
            found.files.append(p)  # missing files are reported per file, not fatal to the batch
    if not found.files:
        hint = (
            f" ({skipped_note(len(found.skipped))}; name a file to process it anyway)"
            if found.skipped
            else ""
        )
        raise UsageError("no input images found in: " + " ".join(items) + hint)
    return found


def skipped_note(n: int) -> str:
    """The one line that says how many scanned files were left out as genedit's own outputs."""
    return f"skipped {n} image(s) that genedit wrote"


def output_path(
    src: Path,
    *,
    output: str | None,
    out_dir: str | None,
    tag: str,
    ext: str | None,
    subdir: Path | None = None,
) -> Path:
    """Where ``src``'s output goes: ``-o``, else ``<out_dir or results>/<subdir>/<stem>_<tag><ext>``."""
    suffix = ext if ext else src.suffix
    if not suffix.startswith("."):
        suffix = "." + suffix
    if output:
        return Path(output)
    folder = Path(out_dir) if out_dir else Path(DEFAULT_OUT_DIR)
    if subdir is not None:
        folder = folder / subdir
    return folder / f"{src.stem}_{tag}{suffix.lower()}"
