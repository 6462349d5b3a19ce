"""Options checked before any work: a bad value is one line and exit 2 before a model loads.

``genedit run`` and ``genedit generate`` call these right after reading their options, so a typo
(``--tile-overlap -8``, ``--device ''``, ``--ext gif``, ``GENEDIT_MAX_PIXELS=abc``) never costs a
model load or a batch that fails on every file, and never reaches a decoder or the tiler as a value
they were not written for. Checks that need the files themselves (can each output be written?)
run on the expanded inputs, still before the model loads. Torch-free.
"""

from __future__ import annotations

from pathlib import Path

from genedit_core.device import DTYPE_NAMES, check_device_name
from genedit_core.errors import UsageError
from genedit_core.images import SUPPORTED_SUFFIXES, max_pixels_default, output_format

MAX_FRAMES = 1_000  # --steps of an interpolation: each frame is one image written


def check_common(*, device: str | None, dtype: str | None) -> None:
    """``--device`` and ``--dtype`` by name; whether the device exists here is asked at load."""
    check_device_name(device)
    if dtype is not None and str(dtype).strip().lower() not in DTYPE_NAMES:
        shown = dtype if str(dtype).strip() else repr(dtype)
        raise UsageError(f"--dtype {shown}: expected one of {', '.join(DTYPE_NAMES)}")


def check_run_options(
    *,
    device: str | None,
    dtype: str | None,
    tile: str,
    tile_overlap: int | None,
    max_pixels: int | None,
    ext: str | None,
    output: str | None,
) -> None:
    """Every ``genedit run`` option that can be judged without the files."""
    check_common(device=device, dtype=dtype)
    if tile != "auto":
        try:
            size = int(tile)
        except ValueError:
            size = -1
        if size < 0:
            raise UsageError(f"--tile {tile}: expected a number of pixels, 'auto' or 0 (no tiling)")
    if tile_overlap is not None and tile_overlap < 0:
        raise UsageError(f"--tile-overlap {tile_overlap}: expected 0 or more pixels")
    if max_pixels is None:
        max_pixels_default()  # GENEDIT_MAX_PIXELS=abc is refused here, not on the first image
    elif max_pixels < 1:
        raise UsageError(f"--max-pixels {max_pixels}: expected a positive number of pixels")
    if ext is not None:
        suffix = ext if ext.startswith(".") else "." + ext
        if not output_format(Path("x" + suffix)):
            raise UsageError(f"--ext {ext}: genedit cannot write this type (use {_types()})")
    if output is not None and not output_format(Path(output)):
        raise UsageError(f"-o {output}: genedit cannot write '{Path(output).suffix}' files (use {_types()})")


def check_outputs_writable(files: list[Path], *, output: str | None, ext: str | None) -> None:
    """Each input's output must be a type genedit writes: a ``.gif`` input without ``--ext`` is
    refused now, with the fix, instead of failing after its model ran."""
    if output is not None or ext is not None:
        return  # their type was checked by check_run_options
    for src in files:
        if not output_format(src):
            kind = f"'{src.suffix}' files" if src.suffix else "files without a type suffix"
            raise UsageError(
                f"{src}: genedit cannot write {kind}, so its output cannot keep the input's type; "
                f"pass --ext png (or another of {_types()})"
            )


def check_generate_options(
    *,
    device: str | None,
    dtype: str | None,
    steps: int,
    interpolate: tuple[int, int] | None,
    style_mix: int | None,
) -> None:
    """``genedit generate`` options beyond ``--seeds`` (which :func:`parse_index_ranges` bounds)."""
    from genedit_core.params import SEED_MAX

    check_common(device=device, dtype=dtype)
    if not 2 <= steps <= MAX_FRAMES:
        raise UsageError(f"--steps {steps}: expected 2 to {MAX_FRAMES:,} frames")
    seeds = [("--interpolate", s) for s in interpolate or ()] + [("--style-mix", style_mix)]
    for option, value in seeds:
        if value is not None and not 0 <= value <= SEED_MAX:
            raise UsageError(f"{option} {value}: a seed must be between 0 and {SEED_MAX}")


def _types() -> str:
    return ", ".join(s.lstrip(".") for s in SUPPORTED_SUFFIXES)
