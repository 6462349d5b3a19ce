"""The driver every ``optimize`` method shares: measure, apply, measure again, write the results.

A method module exposes ``apply(model, ctx) -> Outcome`` and mutates ``model.module`` in place (or
returns a new callable). The driver measures the original first (parameters, stored size, latency,
quality on the eval set), so "before" and "after" are taken side by side in one process, then
writes into ``--out``:

* ``model.safetensors`` + ``config.json`` when the method produced new weights; ``config.json``
  carries the method's record under ``genedit.compress`` (layer surgery, base shapes) and, when the
  owning plugin cannot load the weights alone (fewer channels, depthwise pairs, an int8 program),
  names the method under ``genedit.transform``, so :func:`genedit_core.load` hands the folder to
  this plugin's ``transform_model`` hook (:mod:`.artifacts`);
* any extra artefacts (``model.int8.pt2``, ``model.int8.onnx``, ``model.sparse.safetensors``); a
  folder holding a program instead of weights names it under ``genedit.file``;
* ``report.json`` and a ``README.md`` model card that records what was done and what it cost.

Every phase is announced through ``request.progress`` (see :mod:`genedit_core.progress`): the
measurements, the method, and inside it the calibration crops and each fine-tune step, so a front
end can show where an eight-minute job is. Nothing here prints.
"""

from __future__ import annotations

import importlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import ProgressFn, UsageError, get_int, get_size, silent

from ._wrap import count_nonzero, count_params, example_input, require_module
from .evaldata import EvalSet, calibration_batches, eval_set, score
from .measure import stored_bytes, time_forward

_MODULES = {
    "accelerate": "accelerate",
    "prune-unstructured": "prune",
    "prune-structured": "structured",
    "quantize-int8": "quantize",
    "depthwise-separable": "depthwise",
    "sparsity": "sparsity",
}


@dataclass
class Outcome:
    """What a method returns; ``forward`` is the optimized 0–1 callable that gets measured."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    details: dict[str, Any] = field(default_factory=dict)
    save_weights: bool = True
    recipe: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    params_after: int | None = None
    stored_bytes_after: int | None = None
    input_dtype: torch.dtype | None = None
    #: the owning plugin cannot load the result alone: config.json names the method under
    #: ``genedit.transform`` and loading goes through :mod:`.artifacts`
    transform: bool = False
    #: tensors to save instead of the module's (which may hold kinds safetensors cannot store)
    state: dict[str, torch.Tensor] | None = None


@dataclass
class Context:
    """What a method gets besides the model: options, output folder, inputs and progress reporting.

    ``stage`` is the phase the method runs in; a sub-phase (calibration crops, fine-tuning) that
    ends inside the method hands the display back to it with :meth:`resume`.
    """

    model: Any
    params: dict[str, Any]
    out: Path
    bench_input: torch.Tensor
    evaluation: EvalSet | None
    _calib: list[torch.Tensor] | None = None
    progress: ProgressFn = silent
    stage: str = ""

    def calibration(self, size: int | None = None, count: int | None = None) -> list[torch.Tensor]:
        """Calibration / distillation inputs (``--calib`` spec, ``--calib-size``, ``--calib-count``)."""
        if self._calib is None:
            count = count or get_int(self.params, "calib_count", 16, lo=1)
            self.progress(f"calibration crops ({count})")
            self._calib = calibration_batches(
                self.model,
                self.params.get("calib"),
                size or get_int(self.params, "calib_size", 48, lo=8),
                count,
            )
            self.resume()
        return self._calib

    def resume(self) -> None:
        """Report the method's own phase again after a sub-phase it ran has ended."""
        if self.stage:
            self.progress(f"{self.stage} (continued)")


def make_context(model: Any, params: dict[str, Any], out: Path, progress: ProgressFn = silent) -> Context:
    h, w = get_size(params, "bench_size", (256, 256))
    progress("evaluation set")
    evaluation = eval_set(
        model,
        params.get("eval"),
        get_int(params, "eval_crop", 128, lo=8),
        get_int(params, "eval_count", 5, lo=1),
    )
    batch = get_int(params, "bench_batch", 1, lo=1)
    return Context(model, params, out, example_input(model, h, w, batch=batch), evaluation, progress=progress)


def run_method(request: Any) -> dict[str, Any]:
    model = request.model
    module = require_module(model)
    module.eval()
    out = Path(request.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _run_into(request, model, module, out)
    except BaseException:
        if created:  # leave nothing half-written behind: a folder this call made goes with it
            import shutil

            shutil.rmtree(out, ignore_errors=True)
        raise


def _run_into(request: Any, model: Any, module: torch.nn.Module, out: Path) -> dict[str, Any]:
    params = dict(request.params)
    progress: ProgressFn = getattr(request, "progress", None) or silent
    ctx = make_context(model, params, out, progress)
    repeats = get_int(params, "repeats", 5, lo=1)

    before = _measure(model, model.forward, module, ctx, repeats, label="original")
    base_outputs = before.pop("_outputs", None)
    base_state_shapes = {k: list(v.shape) for k, v in module.state_dict().items()}
    method = importlib.import_module(f".{_MODULES[request.method]}", __package__)
    ctx.stage = request.method
    progress(ctx.stage)
    outcome: Outcome = method.apply(model, ctx)

    after = _measure(
        model,
        outcome.forward,
        module,
        ctx,
        repeats,
        reference=base_outputs,
        outcome=outcome,
        label="optimized",
    )
    progress("write results")
    after.pop("_outputs", None)
    report = _report(request.method, model, params, before, after, outcome)
    files = list(outcome.files)
    recipe = {"method": request.method, **outcome.recipe}
    if outcome.transform and (outcome.recipe.get("surgery") or outcome.recipe.get("artifact")):
        recipe["base_shapes"] = base_state_shapes  # the owner builds the original from zeros of these
    extra: dict[str, Any] = {"compress": recipe}
    if outcome.transform:
        extra["transform"] = request.method
    if outcome.save_weights:
        from .publish import write_weights

        write_weights(model, out, extra_config=extra, state=outcome.state)
        files = ["model.safetensors", "config.json", *files]
    elif outcome.recipe.get("artifact"):
        from .publish import CONFIG_NAME, model_config

        config = model_config(model, {**extra, "file": outcome.recipe["artifact"]})
        (out / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        files = [CONFIG_NAME, *files]
    (out / "report.json").write_text(json.dumps(_finite(report), indent=2) + "\n")
    files.append("report.json")
    from .report import optimized_card

    (out / "README.md").write_text(optimized_card(model, report))
    report["files"] = [*files, "README.md"]
    report["out"] = str(out)
    return _finite(report)


def _measure(
    model: Any,
    forward: Callable,
    module: torch.nn.Module,
    ctx: Context,
    repeats: int,
    reference: list[torch.Tensor] | None = None,
    outcome: Outcome | None = None,
    label: str = "original",
) -> dict[str, Any]:
    x = ctx.bench_input
    if outcome is not None and outcome.input_dtype is not None:
        x = x.to(outcome.input_dtype)
    timing = time_forward(
        forward,
        x,
        repeats=repeats,
        warmup=2 if outcome is not None else 1,
        progress=ctx.progress,
        phase=f"time the {label} model",
    )
    result: dict[str, Any] = {
        "params": outcome.params_after
        if outcome and outcome.params_after is not None
        else count_params(module),
        "nonzero_params": count_nonzero(module),
        "stored_bytes": outcome.stored_bytes_after
        if outcome and outcome.stored_bytes_after is not None
        else stored_bytes(module),
        "latency_ms": timing["median_ms"],
        "images_per_s": timing["images_per_s"],
        "peak_mem_mb": timing["peak_mem_mb"],
    }
    if ctx.evaluation is not None:
        ctx.progress(f"score the {label} model on the evaluation set")
        quality = score(forward, ctx.evaluation, model, reference)
        result.update(quality)
    return result


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _report(
    method: str,
    model: Any,
    params: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    outcome: Outcome,
) -> dict[str, Any]:
    from genedit_core.sdk import dtype_name

    report: dict[str, Any] = {
        "method": method,
        "model": model.card.name,
        "scale": model.scale,
        "weights": model.weights.origin if model.weights else None,
        "device": str(model.device),
        "dtype": dtype_name(model.dtype),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "bench_input": list(get_size(params, "bench_size", (256, 256))),
        "bench_input_shape": list(ctx_input_shape(model, params)),
        "params": {k: v for k, v in params.items()},
        "before": before,
        "after": after,
        "speedup": _ratio(before["latency_ms"], after["latency_ms"]),
        "params_ratio": _ratio(after["params"], before["params"]),
        "size_ratio": _ratio(after["stored_bytes"], before["stored_bytes"]),
        "details": outcome.details,
    }
    if "psnr_y" in before and "psnr_y" in after:
        report["psnr_delta_db"] = after["psnr_y"] - before["psnr_y"]
        report["eval_set"] = params.get("eval") or "builtin:skimage-photos:heldout"
    return report


def _finite(obj: Any) -> Any:
    """JSON has no inf/nan: identical outputs (infinite PSNR) are written as the string 'inf'."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def ctx_input_shape(model: Any, params: dict[str, Any]) -> tuple[int, ...]:
    """The timed input's shape: N×C×H×W for images, N×latent for generators (N = ``--bench-batch``)."""
    batch = get_int(params, "bench_batch", 1, lo=1)
    if getattr(model, "takes_latent", False):
        return (batch, *model.latent_shape)
    h, w = get_size(params, "bench_size", (256, 256))
    return (batch, model.in_channels, h, w)
