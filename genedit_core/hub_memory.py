"""Hub endpoints that could not be reached a moment ago, remembered across processes.

Why: offline, every ``genedit run`` of a card whose default weights live on the Hub would import
huggingface_hub's HTTP stack and wait for a failed connection (together about 0.9 s on a 2-core
machine) before falling back to the bundled weights, and a batch script pays that per process. A
small file in genedit's cache lets the processes of the next minute skip both: they look in the HF
cache themselves (:func:`cached_hub_file`) and go straight to the fallback. A request that gets an
answer forgets the endpoint, and the memory is short, so a machine that comes back online is asked
again within :data:`MEMORY_S`.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

MEMORY_S = 60.0  # how long an endpoint that failed is taken as unreachable without asking
MEMORY_NAME = "hub-unreachable.json"
MAX_MEMORY_BYTES = 64 << 10  # a few endpoints; anything larger is not ours and is ignored
TIMED_OUT = "timed out"
UNREACHABLE = "unreachable"


def memory_path() -> Path:
    from .weights import genedit_cache_dir

    return genedit_cache_dir() / MEMORY_NAME


def _read() -> dict[str, dict[str, object]]:
    try:
        with open(memory_path(), "rb") as f:
            raw = f.read(MAX_MEMORY_BYTES + 1)
        data = json.loads(raw) if len(raw) <= MAX_MEMORY_BYTES else {}
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, dict[str, object]]) -> None:
    """Best effort: a read-only or full cache only costs the next process a probe."""
    from .autobackend import write_json_atomic

    with contextlib.suppress(OSError):
        write_json_atomic(memory_path(), data)


def recent_failure(endpoint: str) -> tuple[str, float] | None:
    """``(why, seconds ago)`` when ``endpoint`` failed within :data:`MEMORY_S`, else ``None``."""
    entry = _read().get(endpoint)
    if not isinstance(entry, dict):
        return None
    at, why = entry.get("at"), entry.get("why")
    if not isinstance(at, (int, float)) or why not in (TIMED_OUT, UNREACHABLE):
        return None
    ago = time.time() - float(at)
    return (str(why), ago) if 0 <= ago < MEMORY_S else None


def remember_failure(endpoint: str, why: str) -> None:
    """Record that ``endpoint`` timed out or refused just now; old entries are dropped."""
    now = time.time()
    data = {
        name: entry
        for name, entry in _read().items()
        if isinstance(entry, dict)
        and isinstance(entry.get("at"), (int, float))
        and 0 <= now - float(entry["at"]) < MEMORY_S
    }
    data[endpoint] = {"at": now, "why": why}
    _write(data)


def forget_failure(endpoint: str | None = None) -> None:
    """``endpoint`` answered (or, with ``None``, ask every endpoint again)."""
    data = _read()
    if endpoint is None:
        if data:
            _write({})
        return
    if data.pop(endpoint, None) is not None:
        _write(data)


def cached_hub_file(repo_id: str, filename: str, revision: str | None, cache_dir: str | None) -> Path | None:
    """The HF cache's copy of a model repository's file at ``revision`` (default ``main``), or None.

    The same answer as ``huggingface_hub.try_to_load_from_cache`` for a model repository (a test
    compares the two), read from the cache's documented layout, ``models--OWNER--NAME/refs/REV``
    naming a commit and ``snapshots/COMMIT/FILE`` holding the file, so a process that knows the
    Hub is away need not import huggingface_hub at all. Names were checked by the caller.
    """
    if cache_dir is None:
        from huggingface_hub.constants import HF_HUB_CACHE  # constants only: a few milliseconds

        cache_dir = HF_HUB_CACHE
    repo = Path(cache_dir) / ("models--" + repo_id.replace("/", "--"))
    commit = revision or "main"
    ref = repo / "refs" / commit
    try:
        if ref.is_file():
            commit = ref.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not commit or os.sep in commit or commit in (".", ".."):
        return None
    path = repo / "snapshots" / commit / filename
    return path if path.is_file() else None
