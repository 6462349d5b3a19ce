"""``quantize-int8``: post-training static int8 for conv models, calibrated on images.

Two back ends, both current and supported; the default is ONNX Runtime when the ``onnx`` extra is
installed (it measured faster on the reference CPU, see docs/optimize.md), else PT2E:

* ``--backend pt2e``: the network is captured with ``torch.export``, annotated by
  ``X86InductorQuantizer`` (per-channel symmetric weights, per-tensor activations), calibrated on
  crops from ``--calib`` (default: genedit's bundled training photos), converted, and run through
  ``torch.compile`` with Inductor freezing, which fuses the quantize/dequantize pairs into oneDNN
  int8 convolutions. Without compilation the same graph runs *slower* than fp32 (the q/dq ops run
  one by one), which is the trap users report. The program is saved as ``model.int8.pt2``.
  PT2E lives in ``torchao`` (it moved there from ``torch.ao``), installed by the ``int8`` extra.
* ``--backend onnxruntime``: the fp32 ONNX export (verified as usual), then ONNX Runtime static
  QDQ quantization (per-channel weights, MinMax calibration on the same crops), saved as
  ``model.int8.onnx`` and run by onnxruntime.

docs/optimize.md records which one measured faster on the reference machine and why the default
is what it is.

The int8 artifact is built for a CPU kind (``--target auto|vnni|avx2``; ``auto`` reads this host).
On x86 without VNNI the int8 kernels add pairs of u8×s8 products in 16 bits, which saturates with
full-range weights (the ONNX model then drifts by ~2% of full scale); for those CPUs weights are
quantized with ``reduce_range`` (7 bits), ONNX Runtime's advice. The choice is recorded in the
report and in the artifact's metadata, and the loader warns when an artifact made for VNNI runs on
a CPU without it. ``--dynamic true`` gives dynamic int8 (weights int8, activations quantized on the fly)
for ``nn.Linear`` layers, the right tool for Linear-heavy models; convs stay fp32 there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from genedit_core.sdk import UsageError, get_bool, get_choice

from ._wrap import ForwardModule, dynamic_dims, require_module
from .optimizing import Context, Outcome

PT2_NAME = "model.int8.pt2"
ONNX_NAME = "model.int8.onnx"
INT8_TARGETS = ("auto", "vnni", "avx2")


def int8_target(params: dict[str, str]) -> dict[str, Any]:
    """The CPU kind the int8 weights are made for, whether they need 7-bit weights, and why.

    ``vnni`` covers AVX-VNNI, AVX512-VNNI and AMX-INT8 (32-bit accumulation: full 8-bit range);
    ``avx2`` is x86 without them (16-bit pair sums: ``reduce_range``). Other architectures
    accumulate in 32 bits and take the full range.
    """
    from genedit_core.sdk import cpu_flags, cpu_has_int8_dot, is_x86

    target = get_choice(params, "target", "auto", INT8_TARGETS)
    if target != "auto":
        return {"target": target, "reduce_range": target == "avx2", "chosen_by": "--target"}
    if not is_x86():
        import platform

        return {"target": platform.machine().lower(), "reduce_range": False, "chosen_by": "this host"}
    has_dot = cpu_has_int8_dot()
    seen = sorted(cpu_flags() & {"avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8"})
    return {
        "target": "vnni" if has_dot else "avx2",
        "reduce_range": not has_dot,
        "chosen_by": f"this host ({' '.join(seen) or 'flags unknown'})",
    }


def _pt2e_modules() -> tuple[Any, Any, Any, Any]:
    try:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.quantization.pt2e.quantizer.x86_inductor_quantizer import (
            X86InductorQuantizer,
            get_default_x86_inductor_quantization_config,
        )
    except ImportError:
        raise UsageError(
            "quantize-int8 with the PT2E back end needs torchao: pip install 'genedit-compress[int8]' "
            "(or use --backend onnxruntime)"
        ) from None
    return prepare_pt2e, convert_pt2e, X86InductorQuantizer, get_default_x86_inductor_quantization_config


def default_backend() -> str:
    """ONNX Runtime QDQ measured faster than PT2E + Inductor on the reference CPU (docs/optimize.md)."""
    import importlib.util

    have_ort = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnxscript", "onnx"))
    return "onnxruntime" if have_ort else "pt2e"


def _export_example(model: Any, calibration: list[torch.Tensor]) -> torch.Tensor:
    """Generators get a dynamic batch, which export cannot infer from a batch of one: use two."""
    if model.takes_latent and len(calibration) > 1:
        return torch.cat(calibration[:2])
    return calibration[0]


def quantize_pt2e(model: Any, calibration: list[torch.Tensor]) -> torch.nn.Module:
    """The converted (not yet compiled) int8 GraphModule, calibrated on ``calibration``."""
    prepare_pt2e, convert_pt2e, quantizer_cls, default_config = _pt2e_modules()
    wrapper = ForwardModule(model).eval()
    example = (_export_example(model, calibration).to(model.device, torch.float32),)
    with torch.no_grad():
        captured = torch.export.export(
            wrapper, example, dynamic_shapes=dynamic_dims(model, batch=model.takes_latent)
        ).module()
        quantizer = quantizer_cls()
        quantizer.set_global(default_config())
        prepared = prepare_pt2e(captured, quantizer)
        for x in calibration:
            prepared(x.to(model.device, torch.float32))
        return _drop_unused_tensors(convert_pt2e(prepared))


def _drop_unused_tensors(gm: torch.fx.GraphModule) -> torch.fx.GraphModule:
    """Conversion leaves the fp32 originals attached next to their int8 copies; only keep what runs."""
    used = {n.target for n in gm.graph.nodes if n.op == "get_attr"}
    names = [n for n, _ in gm.named_parameters()] + [n for n, _ in gm.named_buffers()]
    for name in names:
        if name in used:
            continue
        parent, _, leaf = name.rpartition(".")
        owner = gm.get_submodule(parent) if parent else gm
        if leaf in owner._parameters:
            del owner._parameters[leaf]
        elif leaf in owner._buffers:
            del owner._buffers[leaf]
    return gm


def apply(model: Any, ctx: Context) -> Outcome:
    require_module(model)
    if getattr(model.device, "type", "cpu") != "cpu":
        raise UsageError("quantize-int8 targets CPU inference; load the model with --device cpu")
    if get_bool(ctx.params, "dynamic", False):
        return _dynamic_linear(model)
    backend = get_choice(ctx.params, "backend", default_backend(), ("pt2e", "onnxruntime"))
    calibration = ctx.calibration()
    if backend == "onnxruntime":
        return _onnxruntime(model, ctx, calibration)
    from .accelerate import Accelerated

    converted = quantize_pt2e(model, calibration)
    path = ctx.out / PT2_NAME
    with torch.no_grad():
        program = torch.export.export(
            converted,
            (_export_example(model, calibration).float(),),
            dynamic_shapes=dynamic_dims(model, batch=model.takes_latent),
        )
    torch.export.save(program, str(path))
    fast = Accelerated(
        converted,
        scale=model.scale,
        device_type="cpu",
        bf16=False,
        channels_last=False,
        shapes=get_choice(ctx.params, "shapes", "bucket", ("bucket", "dynamic")),
        multiple=model.size_multiple,
    )
    return Outcome(
        forward=fast,
        details={
            "backend": "pt2e",
            "quantizer": "X86InductorQuantizer (default config)",
            "compiled": True,
            "calibration_crops": len(calibration),
            "calibration_size": list(calibration[0].shape[-2:]),
            "calibration_data": ctx.params.get("calib") or "builtin:skimage-photos",
        },
        save_weights=False,
        recipe={"artifact": PT2_NAME, "compile": True},
        transform=True,
        files=[PT2_NAME],
        stored_bytes_after=path.stat().st_size,
    )


def _onnxruntime(model: Any, ctx: Context, calibration: list[torch.Tensor]) -> Outcome:
    try:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    except ImportError:
        raise UsageError(
            "--backend onnxruntime needs the onnx extra: pip install 'genedit-compress[onnx]'"
        ) from None
    from .exporting import export_onnx
    from .onnx_model import load_onnx_model

    fp32 = ctx.out / "model.fp32.onnx"
    export_onnx(model, fp32)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            name = "latent" if model.takes_latent else "image"  # the input name export_onnx gave it
            self._items = iter([{name: x.float().numpy()} for x in calibration])

        def get_next(self) -> dict[str, Any] | None:
            return next(self._items, None)

    path = ctx.out / ONNX_NAME
    target = int8_target(ctx.params)
    quantize_static(
        str(fp32),
        str(path),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        reduce_range=target["reduce_range"],
    )
    _copy_metadata(
        fp32,
        path,
        {
            "genedit.int8.target": target["target"],
            "genedit.int8.reduce_range": str(target["reduce_range"]).lower(),
        },
    )
    fp32.unlink()
    session_model = load_onnx_model(path, card=model.card)
    return Outcome(
        forward=session_model.forward,
        details={
            "backend": "onnxruntime",
            "format": "QDQ",
            "per_channel": True,
            "target_cpu": target["target"],
            "reduce_range": target["reduce_range"],
            "target_chosen_by": target["chosen_by"],
            "calibration_crops": len(calibration),
            "calibration_size": list(calibration[0].shape[-2:]),
        },
        save_weights=False,
        recipe={
            "artifact": ONNX_NAME,
            "target_cpu": target["target"],
            "reduce_range": target["reduce_range"],
        },
        files=[ONNX_NAME],
        stored_bytes_after=path.stat().st_size,
    )


def _copy_metadata(src: Path, dst: Path, extra: dict[str, str]) -> None:
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    meta.update(extra)
    proto = onnx.load(str(dst))
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(dst))


def _dynamic_linear(model: Any) -> Outcome:
    module = require_module(model)
    linears = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise UsageError(
            f"--dynamic true quantizes nn.Linear layers, and '{model.name}' has none; "
            "use static int8 (the default) for conv models"
        )
    from torch.ao.quantization import quantize_dynamic

    quantized = quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    return Outcome(
        forward=model.forward,
        details={"backend": "dynamic", "layers": linears},
        save_weights=False,
        params_after=sum(p.numel() for p in quantized.parameters()),
    )
