"""``genedit bench``: every variant timed side by side, in one process, interleaved.

Each variant (fp32 eager, the requested dtype, each ``--method``) is prepared on its own fresh copy
of the model, then timed round-robin: one call of each variant per round, ``repeats`` rounds, so
background load on a shared machine hits all of them alike and the ratios stay meaningful even
when absolute times drift. Reported per variant: median latency, images/s, peak memory (see
:mod:`.measure`) and the speed-up against fp32 eager. Each step (loading, preparing a variant,
warm-up, every timed call) is reported through ``progress`` (see :mod:`genedit_core.progress`).
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import ProgressFn, UsageError, get_size, silent

from ._wrap import example_input
from .methods import OPTIMIZE_METHODS


@dataclass
class Variant:
    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    x: torch.Tensor
    model: Any
    details: dict[str, Any]
    outcome: Any = None


def prepare(
    name: str,
    method: str | None,
    *,
    weights: str | None,
    scale: int | None,
    device: str,
    dtype: str,
    x: torch.Tensor,
    params: dict[str, Any],
    workdir: Path,
    progress: ProgressFn = silent,
    backend: str = "torch",
) -> Variant:
    """A fresh model, optionally transformed by ``method`` (its artefacts go to ``workdir``) or run
    by the runtime ``backend`` (a converting one of ``genedit.backends``, such as ``openvino``)."""
    progress(f"prepare {method or (backend if backend != 'torch' else dtype + ' eager')}")
    from genedit_core.sdk import dtype_name, load

    model = load(name, weights=weights, scale=scale, device=device, dtype=dtype, backend=backend)
    if model.module is not None and hasattr(model.module, "eval"):
        model.module.eval()
    xin = x.to(model.device, model.dtype)
    if method is None:
        label = f"{'fp32' if model.dtype == torch.float32 else str(model.dtype).split('.')[-1]} eager"
        if backend != "torch":  # a network that did not convert ran in torch: the label says so
            label = f"{backend} {dtype_name(model.dtype)}" + (
                "" if model.backend == backend else " (ran in torch)"
            )
        return Variant(label, model.forward, xin, model, {})
    if method not in OPTIMIZE_METHODS:
        raise UsageError(f"--method {method}: unknown (have: {', '.join(OPTIMIZE_METHODS)})")
    import importlib

    from .optimizing import _MODULES, Context

    ctx = Context(model, dict(params), workdir, xin, None, progress=progress, stage=f"prepare {method}")
    workdir.mkdir(parents=True, exist_ok=True)
    outcome = importlib.import_module(f".{_MODULES[method]}", __package__).apply(model, ctx)
    label = method + "".join(
        f" {k}={v}" for k, v in sorted(params.items()) if k not in ("calib", "calib_count")
    )
    return Variant(
        label,
        outcome.forward,
        xin if outcome.input_dtype is None else xin.to(outcome.input_dtype),
        model,
        outcome.details,
        outcome,
    )


def time_round_robin(
    variants: list[Variant], repeats: int, warmup: int = 2, progress: ProgressFn = silent
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    with torch.inference_mode():
        done, calls = 0, warmup * len(variants)
        progress("warm-up", 0, calls)
        for v in variants:
            for _ in range(warmup):
                v.forward(v.x)
                done += 1
                progress("warm-up", done, calls)
        done, calls = 0, repeats * len(variants)
        progress(f"timing: {repeats} interleaved rounds", 0, calls)
        for _ in range(repeats):
            for v in variants:
                _sync(v.x)
                start = time.perf_counter()
                v.forward(v.x)
                _sync(v.x)
                times[v.name].append(time.perf_counter() - start)
                done += 1
                progress(f"timing: {repeats} interleaved rounds", done, calls)
    return times


def _sync(x: torch.Tensor) -> None:
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)


def bench_model(
    name: str,
    *,
    size: str = "512",
    methods: list[str] | None = None,
    weights: str | None = None,
    scale: int | None = None,
    device: str = "cpu",
    dtype: str = "fp32",
    repeats: int = 5,
    params: dict[str, Any] | None = None,
    variants_params: list[dict[str, Any]] | None = None,
    progress: ProgressFn = silent,
    backends: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Time fp32 eager, ``dtype`` eager, each of ``methods`` and each of ``backends`` (at ``dtype``)
    side by side; one row per variant."""
    from .measure import time_forward

    h, w = get_size({"size": size}, "size", (512, 512))
    params = dict(params or {})
    progress(f"load {name}")
    from genedit_core.sdk import load

    base = load(name, weights=weights, scale=scale, device=device, dtype="fp32")
    x = example_input(base, h, w)
    # every variant is the same model on the same input; only its method, dtype and options differ
    same = functools.partial(
        prepare, name, weights=weights, scale=scale, device=device, x=x, progress=progress
    )
    with tempfile.TemporaryDirectory(prefix="genedit-bench-") as tmp:
        variants = [same(None, dtype="fp32", params={}, workdir=Path(tmp))]
        if dtype not in ("fp32", "auto"):
            variants.append(same(None, dtype=dtype, params={}, workdir=Path(tmp)))
        for i, method in enumerate(methods or []):
            mparams = dict(params)
            if variants_params and i < len(variants_params):
                mparams.update(variants_params[i])
            variants.append(same(method, dtype="fp32", params=mparams, workdir=Path(tmp) / f"{i}-{method}"))
        for b in backends or []:
            variants.append(same(None, dtype=dtype, params={}, workdir=Path(tmp), backend=b))
        times = time_round_robin(variants, repeats, progress=progress)
        base_median = statistics.median(times[variants[0].name])
        rows = []
        for i, v in enumerate(variants):
            progress("peak memory", i, len(variants))
            median = statistics.median(times[v.name])
            memory = time_forward(v.forward, v.x, repeats=1, warmup=0)["peak_mem_mb"]
            rows.append(
                {
                    "variant": v.name,
                    "size": [h, w],
                    "device": str(v.x.device),
                    "median_ms": median * 1e3,
                    "min_ms": min(times[v.name]) * 1e3,
                    "images_per_s": v.x.shape[0] / median,
                    "peak_mem_mb": memory,
                    "ratio": base_median / median,
                    "repeats": repeats,
                    "threads": torch.get_num_threads(),
                    "details": {k: val for k, val in v.details.items() if not isinstance(val, dict)},
                }
            )
        progress("peak memory", len(variants), len(variants))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| variant | median ms | images/s | peak MB | speed-up vs fp32 eager |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['median_ms']:.1f} | {r['images_per_s']:.2f} | {r['peak_mem_mb']:.0f} | "
            f"×{r['ratio']:.2f} |"
        )
    first = rows[0]
    lines.append(
        f"\n{first['size'][0]}×{first['size'][1]} input on {first['device']}, {first['threads']} threads, "
        f"{first['repeats']} interleaved rounds"
    )
    return "\n".join(lines)
