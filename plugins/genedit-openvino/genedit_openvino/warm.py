"""Run a converted program from the cache without torch (genedit's warm path, :mod:`genedit_core.warm`).

The normal path converts, checks and compiles (:mod:`genedit_openvino.runtime`), and genedit then
asks :func:`warm_fields` what a later process needs to run the same program alone: the cache entry,
the inference precision, the OpenVINO version and the thread count it was compiled with. Such a
process calls :func:`load_warm` with those fields: it imports OpenVINO and the compiled blob, and
nothing of torch. Whatever does not match (the entry gone or failed its check, another OpenVINO
version, no blob for that precision) answers ``None``, and genedit takes the normal path, which
converts or compiles again as it always has.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import blob_path

if TYPE_CHECKING:
    import numpy as np

    from genedit_core.sdk import LoadedModel


def warm_fields(model: LoadedModel) -> dict[str, Any] | None:
    """What :func:`load_warm` needs to run ``model``'s program again (``None``: it runs in torch)."""
    info = model.hyperparameters.get("openvino") if model.backend == "openvino" else None
    if not isinstance(info, dict) or not info.get("cache"):
        return None
    import openvino as ov
    import torch

    entry = Path(info["cache"])
    if not blob_path(entry, str(info["precision"])).is_file():
        return None  # an unwritable cache (a temporary folder): nothing stays for the next process
    return {
        "cache": str(entry),
        "precision": str(info["precision"]),
        "openvino": ov.get_version(),
        # torch's own default, which the normal path compiles with when OMP_NUM_THREADS is unset
        "threads": None if os.environ.get("OMP_NUM_THREADS", "").strip() else torch.get_num_threads(),
    }


def load_warm(fields: dict[str, Any]) -> Callable[[np.ndarray], np.ndarray] | None:
    """The compiled program of ``fields`` as a function of float32 N×C×H×W arrays, or ``None``."""
    entry = Path(str(fields.get("cache", "")))
    precision = str(fields.get("precision", ""))
    blob = blob_path(entry, precision)
    try:
        check = json.loads((entry / "check.json").read_text())
    except (OSError, ValueError):
        return None
    if not check.get("ok") or not blob.is_file():
        return None
    import openvino as ov

    if ov.get_version() != fields.get("openvino"):
        return None  # the cache key names the version: a newer OpenVINO converts again
    # the normal path compiles with torch's thread count: OMP_NUM_THREADS, else torch's default
    # (recorded by a process without OMP_NUM_THREADS; 0 lets OpenVINO choose when none did)
    threads = os.environ.get("OMP_NUM_THREADS", "").strip()
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": int(threads) if threads.isdigit() else int(fields.get("threads") or 0),
    }
    compiled = ov.Core().import_model(io.BytesIO(blob.read_bytes()), "CPU", config)

    def forward(x: np.ndarray) -> np.ndarray:
        return compiled(x)[0]  # a copy: the request's buffer is reused by the next call

    return forward
