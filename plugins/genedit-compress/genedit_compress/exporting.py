"""``genedit export``: safetensors, ONNX and torch.export, each checked against PyTorch after writing.

ONNX goes through torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``), which is the
maintained path and gives symbolic batch/height/width. Opset 18 is the default: the newest opset
whose ops (Resize, Pad, DepthToSpace, Reduce*) onnxruntime >= 1.14 implements completely, and the
one the dynamo exporter emits natively (asking it for another opset runs a version converter).
Odd sizes work because the exported graph pads to the model's ``size_multiple`` itself and crops
the result. Verification runs the written file on two different random sizes (odd ones, and a
batch of two when the batch is dynamic) and compares to eager PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import GeneditError, UsageError, get_bool, get_float, get_int

from ._wrap import ForwardModule, dynamic_dims, example_input, require_module

log = logging.getLogger("genedit")

DEFAULT_OPSET = 18
FP32_TOLERANCE = 1e-4
# Verification sizes, (batch, height, width): odd, and different from each other and from the trace.
VERIFY_SIZES = ((1, 37, 53), (2, 64, 41))
TRACE_SIZE = (2, 48, 40)  # batch 2: torch.export specialises a dimension traced at size 1


class ExportError(GeneditError):
    """The exported file does not reproduce the PyTorch model within tolerance."""


def export_model(request: Any) -> dict[str, Any]:
    fmt = request.format
    model = request.model
    require_module(model)
    if fmt == "safetensors":
        return export_safetensors(model, Path(request.out))
    params = request.params
    dynamic = get_bool(params, "dynamic_size", True)
    tolerance = get_float(params, "tolerance", FP32_TOLERANCE, lo=0.0)
    if fmt == "onnx":
        return export_onnx(
            model,
            Path(request.out),
            opset=get_int(params, "opset", DEFAULT_OPSET, lo=13),
            dynamic=dynamic,
            tolerance=tolerance,
        )
    if fmt == "torch-export":
        return export_program(model, Path(request.out), dynamic=dynamic, tolerance=tolerance)
    raise UsageError(f"--format {fmt}: not an export format of genedit-compress")


def _target(out: Path, default_name: str, suffix: str) -> Path:
    if out.suffix.lower() == suffix:
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
    out.mkdir(parents=True, exist_ok=True)
    return out / default_name


def _fp32_cpu(model: Any) -> ForwardModule:
    """The model as an fp32 CPU module: exported graphs are device-neutral and verified in fp32."""
    module = require_module(model)
    if model.dtype != torch.float32 or getattr(model.device, "type", "cpu") != "cpu":
        module.to("cpu", torch.float32)
        model.device, model.dtype = torch.device("cpu"), torch.float32
    return ForwardModule(model, pad_to_multiple=True).eval()


def _trace_input(model: Any) -> torch.Tensor:
    b, h, w = TRACE_SIZE
    h, w = max(h, model.min_size), max(w, model.min_size)
    return example_input(model, h, w, batch=b, seed=1)


def _dynamic_shapes(dynamic: bool, model: Any) -> Any:
    return dynamic_dims(model, batch=True) if dynamic else None


def _verify_sizes(model: Any, dynamic: bool) -> list[tuple[int, int, int]]:
    if not dynamic:
        b, h, w = TRACE_SIZE
        return [(b, max(h, model.min_size), max(w, model.min_size))]
    return [(b, max(h, model.min_size), max(w, model.min_size)) for b, h, w in VERIFY_SIZES]


def _metadata(model: Any, fmt: str, dynamic: bool, extra: dict[str, Any] | None = None) -> dict[str, str]:
    from genedit_core.sdk import __version__

    meta = {
        "genedit.model": model.card.name,
        "genedit.plugin": model.card.plugin,
        "genedit.scale": str(model.scale),
        "genedit.in_channels": str(model.in_channels),
        "genedit.out_channels": str(model.out_channels),
        "genedit.receptive_field": str(model.receptive_field),
        "genedit.dynamic_size": str(dynamic).lower(),
        "genedit.format": fmt,
        "genedit.version": __version__,
        "genedit.hyperparameters": json.dumps(model.hyperparameters, default=str, sort_keys=True),
        "genedit.source": model.weights.origin if model.weights else "",
        "genedit.convention": "float32 RGB in 0-1, NCHW; output NCHW 0-1",
    }
    if model.latent_shape:
        meta["genedit.latent_shape"] = json.dumps(list(model.latent_shape))
    if model.takes_latent:
        meta["genedit.convention"] = "float32 standard-normal latent N×" + "×".join(
            map(str, model.latent_shape)
        )
        meta["genedit.convention"] += " in; output NCHW 0-1"
    meta.update({k: str(v) for k, v in (extra or {}).items()})
    return meta


def export_safetensors(model: Any, out: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    from .publish import write_weights

    folder = out.parent if out.suffix.lower() == ".safetensors" else out
    path = write_weights(model, folder)
    if out.suffix.lower() == ".safetensors" and out.name != path.name:
        path = path.rename(out)
    reloaded = load_file(str(path))
    state = require_module(model).state_dict()
    diff = max(
        (float((reloaded[k].float() - v.detach().cpu().float()).abs().max()) if v.numel() else 0.0)
        for k, v in state.items()
    )
    if set(reloaded) != set(state):
        raise ExportError(f"{path}: keys differ from the module's state dict after reloading")
    return {"path": str(path), "format": "safetensors", "tensors": len(reloaded), "max_abs_diff": diff}


def export_onnx(
    model: Any,
    out: Path,
    *,
    opset: int = DEFAULT_OPSET,
    dynamic: bool = True,
    tolerance: float = FP32_TOLERANCE,
) -> dict[str, Any]:
    try:
        import onnx
    except ImportError:
        raise UsageError("ONNX export needs the onnx extra: pip install 'genedit-compress[onnx]'") from None
    path = _target(out, "model.onnx", ".onnx")
    wrapper = _fp32_cpu(model)
    x = _trace_input(model)
    # The exporter narrates its steps on stdout; keep the command's output to the verification lines.
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
        program = torch.onnx.export(
            wrapper,
            (x,),
            dynamo=True,
            dynamic_shapes=_dynamic_shapes(dynamic, model),
            opset_version=opset,
            input_names=["latent" if model.takes_latent else "image"],
            output_names=["output"],
            verbose=False,
            report=False,
        )
    program.save(str(path))
    proto = onnx.load(str(path))
    for key, value in _metadata(model, "onnx", dynamic, {"genedit.opset": opset}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    checks = verify_onnx(path, wrapper, model, _verify_sizes(model, dynamic), tolerance)
    return {
        "path": str(path),
        "format": "onnx",
        "opset": opset,
        "dynamic": dynamic,
        "checks": checks,
        "max_abs_diff": max(c["max_abs_diff"] for c in checks),
        "tolerance": tolerance,
    }


def verify_onnx(
    path: Path, reference: torch.nn.Module, model: Any, sizes: list[tuple[int, int, int]], tolerance: float
) -> list[dict[str, Any]]:
    try:
        import onnxruntime as ort
    except ImportError:
        raise UsageError("verifying ONNX needs onnxruntime: pip install 'genedit-compress[onnx]'") from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    checks = []
    for i, (b, h, w) in enumerate(sizes):
        x = example_input(model, h, w, batch=b, seed=100 + i)
        with torch.no_grad():
            expected = reference(x)
        got = torch.from_numpy(session.run(None, {name: x.numpy()})[0])
        checks.append(_compare(expected, got, tuple(x.shape), tolerance, path))
    return checks


def _compare(
    expected: torch.Tensor, got: torch.Tensor, shape: tuple[int, ...], tolerance: float, path: Path
) -> dict[str, Any]:
    if tuple(got.shape) != tuple(expected.shape):
        raise ExportError(
            f"{path}: input {shape} gave shape {tuple(got.shape)}, PyTorch gives {tuple(expected.shape)}"
        )
    diff = float((got.float() - expected.float()).abs().max())
    check = {"input": list(shape), "output": list(got.shape), "max_abs_diff": diff}
    if not diff <= tolerance:
        raise ExportError(
            f"{path}: max abs diff {diff:.3g} on input {shape} exceeds {tolerance:g}; the file is kept "
            "for inspection but does not reproduce the PyTorch model"
        )
    return check


def export_program(
    model: Any, out: Path, *, dynamic: bool = True, tolerance: float = FP32_TOLERANCE
) -> dict[str, Any]:
    """An ExportedProgram (``.pt2``): loadable without genedit or the plugin's Python code."""
    path = _target(out, "model.pt2", ".pt2")
    wrapper = _fp32_cpu(model)
    x = _trace_input(model)
    with torch.no_grad():
        program = torch.export.export(wrapper, (x,), dynamic_shapes=_dynamic_shapes(dynamic, model))
    torch.export.save(
        program,
        str(path),
        extra_files={"genedit.json": json.dumps(_metadata(model, "torch-export", dynamic))},
    )
    reloaded = torch.export.load(str(path)).module()
    checks = []
    for i, (b, h, w) in enumerate(_verify_sizes(model, dynamic)):
        xi = example_input(model, h, w, batch=b, seed=100 + i)
        with torch.no_grad():
            checks.append(_compare(wrapper(xi), reloaded(xi), tuple(xi.shape), tolerance, path))
    return {
        "path": str(path),
        "format": "torch-export",
        "dynamic": dynamic,
        "checks": checks,
        "max_abs_diff": max(c["max_abs_diff"] for c in checks),
        "tolerance": tolerance,
    }
