"""Where compiled programs live on disk, under which key, and how an entry is written.

Why a disk cache: compiling a network with inductor takes from seconds (a toy) to minutes (RRDB),
mostly in the C++ compiler; loading the finished AOTInductor package takes a fraction of a second.
Each entry is a folder ``<genedit cache dir>/inductor/<key>/`` holding ``key.json`` (what the key
covers, for people), ``check.json`` (the result of checking the program against eager torch, a
failure included, so a model that does not compile is not tried again) and ``model.pt2`` (the
package). The key hashes everything the program depends on: card, weights sha256, scale, dtype,
the input bucket, the torch version and this CPU's feature flags (the generated kernels use the
vector instructions this CPU has, and another CPU may lack them).

A folder is filled under a temporary name and renamed into place, so a reader never sees half an
entry, and two processes compiling at once both end with a whole one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: bumped when the folder layout or what the key covers changes
FORMAT = 1


def cache_root() -> Path:
    from genedit_core.sdk import genedit_cache_dir

    return genedit_cache_dir() / "inductor"


def cache_key(fields: dict[str, Any]) -> str:
    """A short hex name for ``fields`` (JSON with sorted keys, so the order of fields never matters)."""
    text = json.dumps({"format": FORMAT, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cpu_signature() -> str:
    """A digest of this CPU's feature flags: a program compiled for AMX must not run on an AVX2 CPU."""
    from genedit_core.sdk import cpu_flags

    return hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:16]
