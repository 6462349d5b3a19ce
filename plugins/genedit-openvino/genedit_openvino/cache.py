"""Where converted programs live on disk, under which key, and how they are written.

Why a disk cache: converting a network takes seconds to a minute, compiling it a fraction of a
second; a second process should pay neither. Each entry is a folder
``<genedit cache dir>/openvino/<key>/`` holding the OpenVINO IR (``model.xml``/``model.bin``), the
result of checking it against torch (``check.json``), and one compiled blob per inference precision
and processor (``compiled-f32-<cpu>.blob``, ``compiled-bf16-<cpu>.blob``). The key hashes everything
the program depends on: the card, the weights' sha256, scale, dtype, the input bucket, and the
OpenVINO and cache-format versions (a newer OpenVINO converts again rather than read an old blob).

Why the blob names the processor and the IR does not: the IR is the same network on any CPU, but
compiling chooses kernels and layouts for the ISA it finds (AMX, AVX-512, AVX2, or the level
``ONEDNN_MAX_CPU_ISA`` caps it to). A cache shared between machines, or one process run under a
cap, must not import a program compiled for another ISA; each gets its own blob beside one IR.

Writes are atomic: a folder is filled under a temporary name and renamed into place, a blob is
written to a temporary file and replaced, so a reader never sees half an entry and two processes
converting at once both end with a whole one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

#: bumped when the folder layout or what the key covers changes
FORMAT = 2


def cache_root() -> Path:
    from genedit_core.sdk import genedit_cache_dir

    return genedit_cache_dir() / "openvino"


def cache_key(fields: dict[str, Any]) -> str:
    """A short hex name for ``fields`` (JSON with sorted keys, so the order of fields never matters)."""
    text = json.dumps({"format": FORMAT, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def blob_path(entry: Path, precision: str) -> Path:
    """The compiled program of ``entry`` for ``precision`` on this processor (and oneDNN ISA cap)."""
    from genedit_core.sdk import device_key

    cpu = hashlib.sha256(device_key("cpu").encode()).hexdigest()[:10]
    return entry / f"compiled-{precision}-{cpu}.blob"


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
