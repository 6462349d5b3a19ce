"""Typed reads of plugin options (``request.params``: strings from the command line).

``genedit run`` and ``genedit generate`` pass every ``--key value`` they do not know to the
plugin as strings; these helpers turn them into values with one-line errors that name the option,
so every plugin reports bad options the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import UsageError

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _opt(key: str) -> str:
    return key.replace("_", "-")


def get_float(
    params: Mapping[str, Any], key: str, default: float, lo: float | None = None, hi: float | None = None
) -> float:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise UsageError(f"--{_opt(key)} {raw}: expected a number") from None
    if value != value:  # NaN passes every comparison below
        raise UsageError(f"--{_opt(key)} {raw}: expected a number")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UsageError(f"--{_opt(key)} {raw}: must be between {lo} and {hi}")
    return value


def get_int(
    params: Mapping[str, Any], key: str, default: int, lo: int | None = None, hi: int | None = None
) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise UsageError(f"--{_opt(key)} {raw}: expected an integer") from None
    if lo is not None and value < lo:
        raise UsageError(f"--{_opt(key)} {raw}: must be at least {lo}")
    if hi is not None and value > hi:
        raise UsageError(f"--{_opt(key)} {raw}: must be at most {hi}")
    return value


def get_bool(params: Mapping[str, Any], key: str, default: bool) -> bool:
    raw = params.get(key)
    if raw is None:
        return default
    text = str(raw).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise UsageError(f"--{_opt(key)} {raw}: expected true or false")


def get_choice(params: Mapping[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    raw = params.get(key)
    if raw is None:
        return default
    value = str(raw).strip().lower()
    if value not in choices:
        raise UsageError(f"--{_opt(key)} {raw}: expected one of {', '.join(choices)}")
    return value


def get_size(params: Mapping[str, Any], key: str, default: tuple[int, int]) -> tuple[int, int]:
    """``256`` or ``256x192`` (height x width)."""
    raw = params.get(key)
    if raw is None:
        return default
    text = str(raw).lower().replace("×", "x")
    try:
        parts = [int(p) for p in text.split("x")]
    except ValueError:
        raise UsageError(f"--{_opt(key)} {raw}: expected N or HxW") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 1:
        raise UsageError(f"--{_opt(key)} {raw}: expected N or HxW with positive sizes")
    return parts[0], parts[1]


SEED_MAX = 2**63 - 1  # what torch.Generator.manual_seed takes without wrapping, and JSON keeps exactly
MAX_INDICES = 10_000  # one command; more is a typo (0-99999999999) or a job for several commands


def parse_index_ranges(
    spec: str, option: str, lo: int = 0, hi: int = SEED_MAX, max_count: int = MAX_INDICES
) -> list[int]:
    """``0-15``, ``0,3,7`` or ``0-3,9`` -> indices in order, without duplicates (seeds, dims).

    Every index must lie in ``[lo, hi]`` and there may be at most ``max_count`` of them; both are
    checked from the range ends before any list is built, so ``0-99999999999`` is one line, not
    a process that fills memory.
    """
    out: list[int] = []
    count = 0
    try:
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                first, last = part.split("-", 1)
                a, b = int(first), int(last)
                if b < a:
                    raise ValueError
            else:
                a = b = int(part)
            if a < lo or b > hi:
                raise UsageError(f"--{option} {spec}: each value must be between {lo} and {hi}")
            count += b - a + 1
            if count > max_count:
                raise UsageError(
                    f"--{option} {spec}: more than {max_count:,} values; split the work into several commands"
                )
            out += range(a, b + 1)
    except ValueError:
        raise UsageError(f"--{option} {spec}: expected e.g. 0-15, 0,3,7 or 0-3,9") from None
    if not out:
        raise UsageError(f"--{option} {spec}: empty")
    return list(dict.fromkeys(out))
