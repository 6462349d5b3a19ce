"""Options checked before any work: a bad value is one line and exit 2 before a model loads.

``genedit generate`` calls these right after reading its options, so a typo (``--steps 1``,
``--device ''``) never costs a model load. ``genedit run``'s checks (``--tile-overlap -8``,
``--ext gif``, ``GENEDIT_MAX_PIXELS=abc``, outputs that cannot be written) live in
:mod:`genedit_core.batch`, where Python callers of ``run_batch`` get them too. Torch-free.
"""

from __future__ import annotations

from genedit_core.batch import check_device_dtype as check_common
from genedit_core.errors import UsageError

MAX_FRAMES = 1_000  # --steps of an interpolation: each frame is one image written


def check_generate_options(
    *,
    device: str | None,
    dtype: str | None,
    steps: int,
    interpolate: tuple[int, int] | None,
) -> None:
    """``genedit generate``'s own options beyond ``--seeds`` (which :func:`parse_index_ranges`
    bounds); the model's options are checked against its card."""
    from genedit_core.params import SEED_MAX

    check_common(device=device, dtype=dtype)
    if not 2 <= steps <= MAX_FRAMES:
        raise UsageError(f"--steps {steps}: expected 2 to {MAX_FRAMES:,} frames")
    for option, value in [("--interpolate", s) for s in interpolate or ()]:
        if value is not None and not 0 <= value <= SEED_MAX:
            raise UsageError(f"{option} {value}: a seed must be between 0 and {SEED_MAX}")
