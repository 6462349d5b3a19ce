"""Limits on what genedit reads: small files read with a size cap, and size caps set from the environment.

A config file or a ``config.json`` next to weights is a few KB; reading one without a cap would let a
huge or endless file (a mistaken path, ``/dev/zero`` behind a link) fill memory. Caps users may raise
(pixels per image, bytes per weights file) come from environment variables that are checked the same
way everywhere: a positive whole number, or one line naming the variable and what it expects.
Standard library only: the CLI reads these before torch is imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import GeneditError, UsageError


def read_capped(path: Path, limit: int, error: type[GeneditError], *, cannot: str, too_large: str) -> bytes:
    """At most ``limit`` bytes of ``path``, else ``error`` (one line naming the file).

    ``cannot`` prefixes the OS reason when the file cannot be opened or read (``"cannot read
    config file"``); ``too_large`` is the whole message when it holds more than ``limit`` bytes.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as exc:
        raise error(f"{path}: {cannot} ({exc.strerror or exc})") from None
    if len(raw) > limit:
        raise error(f"{path}: {too_large}")
    return raw


def positive_int_env(name: str, default: int, unit: str) -> int:
    """The environment variable ``name`` as a positive whole number (``_`` allowed), or ``default``
    when it is unset or blank; anything else is a :class:`UsageError` naming it and ``unit``."""
    env = os.environ.get(name, "").strip()
    if not env:
        return default
    try:
        value = int(env)
    except ValueError:
        value = 0
    if value < 1:
        raise UsageError(f"{name}={env[:40]!r}: expected a positive whole number of {unit}")
    return value
