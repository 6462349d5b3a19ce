"""Convert a built genedit model to OpenVINO, check it against torch, compile it for the CPU, cache both.

What is converted is the model's whole ``forward`` (value range, mean shift and all), traced with
an example input of one bucket: for image models ``1×C×64×64`` with batch, height and width left
free, so one program serves every tile and image size (on the build machine dynamic and static
shapes ran equally fast, and a static program would need padding that changes border pixels); for
latent models ``1×latent``, with the batch free. Before it is used, the program is run on a probe
of another shape and compared with torch in fp32; a network whose trace baked in its example shape,
or that OpenVINO computes differently, fails that check and runs in torch instead.

Inference precision follows the core's dtype choice: ``bf16`` (which OpenVINO runs on AMX or
AVX512-BF16) only when the core chose bf16 for this card and the CPU has those instructions,
otherwise an explicit ``f32`` (OpenVINO would pick bf16 by itself on such CPUs, even for a card that
is not bf16-safe).

``COUNTS`` counts conversions, checks, compiles and cache reads in this process; tests and
``genedit --verbose`` (the ``genedit.openvino`` logger) use them to show what a load did.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import shutil
import tempfile
import time
import warnings
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genedit_core.sdk import activity, forward_module, publish_folder

from .cache import blob_path, cache_key, cache_root, write_atomic

if TYPE_CHECKING:
    import torch

    from genedit_core.sdk import LoadedModel

log = logging.getLogger("genedit.openvino")
COUNTS: Counter[str] = Counter()

#: example input side for image models (the bucket the trace sees); small, so conversion is quick
EXAMPLE_SIDE = 64
#: the probe the converted program must match torch on: another, non-square shape
PROBE_SHAPE = (40, 56)
#: max |OpenVINO f32 - torch fp32| on the probe, outputs being 0-1 images
TOLERANCE = 1e-4


class NotConverted(Exception):
    """Why a model runs in torch instead; the message ends up in the one warning line."""


def to_openvino(model: LoadedModel) -> LoadedModel:
    """``model`` running in OpenVINO (``backend`` ``"openvino"``), or ``model`` after a warning why not."""
    from genedit_core.sdk import GeneditWarning

    try:
        return _convert(model)
    except NotConverted as exc:
        warnings.warn(f"openvino: model '{model.name}' runs in torch: {exc}", GeneditWarning, stacklevel=3)
        return model


def _convert(model: LoadedModel) -> LoadedModel:
    torch = _torch()
    if model.backend != "torch":
        raise NotConverted(f"it already runs in {model.backend}")
    if not isinstance(model.module, torch.nn.Module):
        raise NotConverted("its plugin gives no torch module to convert")
    if getattr(model.device, "type", str(model.device)) != "cpu":
        raise NotConverted(f"this backend runs on the CPU, and the model is on {model.device}")
    try:
        import openvino as ov
    except ImportError as exc:
        raise NotConverted(f"openvino cannot be imported ({exc}); pip install openvino") from None

    precision = inference_precision(model.dtype)
    fields = key_fields(model, ov.get_version())
    entry = cache_root() / cache_key(fields)
    cached = (entry / "check.json").is_file()
    if not cached:
        # the first use takes seconds (a minute for big networks): `genedit` shows this as a status line
        with activity(f"openvino: converting '{model.name}' for this CPU, once (cached in {entry.parent})"):
            try:
                publish_folder(entry, lambda folder: _convert_into(folder, model, fields))
            except OSError as exc:  # an unwritable cache: convert for this process only
                log.info("openvino: cannot write the cache (%s); converting without it", exc)
                entry = Path(tempfile.mkdtemp(prefix="genedit-openvino-"))
                atexit.register(shutil.rmtree, entry, True)
                _convert_into(entry, model, fields)
    else:
        COUNTS["ir_cache_hit"] += 1
        log.info("openvino: %s from the cache (%s)", model.name, entry)
    check = json.loads((entry / "check.json").read_text())
    if not check.get("ok"):
        raise NotConverted(str(check.get("reason", "it did not convert")))
    try:
        compiled = _compiled(ov, entry, precision)
    except Exception as exc:
        if not cached:
            raise NotConverted(f"OpenVINO cannot compile it ({_first_line(exc)})") from None
        # a damaged entry (a file truncated or removed by hand): drop it and convert once more
        log.info("openvino: cache entry %s is damaged (%s); converting again", entry, _first_line(exc))
        shutil.rmtree(entry, ignore_errors=True)
        return _convert(model)
    return _wrap(model, compiled, precision, entry)


def key_fields(model: LoadedModel, ov_version: str) -> dict[str, Any]:
    """What the converted program depends on: card, weights sha256, scale, dtype, input bucket."""
    from genedit_core.sdk import model_fields

    return {**model_fields(model), "input": input_bucket(model), "openvino": ov_version}


def input_bucket(model: LoadedModel) -> str:
    """The input signature the program accepts, ``?`` marking free dimensions (``?x3x?x?``)."""
    if model.takes_latent:
        assert model.latent_shape is not None
        return "x".join(["?", *map(str, model.latent_shape)])
    return f"?x{model.in_channels}x?x?"


def inference_precision(dtype: Any) -> str:
    """``bf16`` when the core chose bf16 and this CPU computes it natively (AMX / AVX512-BF16)."""
    from genedit_core.sdk import cpu_flags

    torch = _torch()
    if dtype == torch.bfloat16 and cpu_flags() & {"amx_bf16", "avx512_bf16"}:
        return "bf16"
    return "f32"


def _convert_into(folder: Path, model: LoadedModel, fields: dict[str, Any]) -> None:
    """Fill a new cache folder: IR, the check against torch, and the key (a failure is cached too)."""
    import openvino as ov

    (folder / "key.json").write_text(json.dumps(fields, indent=1, sort_keys=True, default=str))
    torch = _torch()
    module = model.module
    dtype = next((p.dtype for p in module.parameters()), torch.float32)
    started = time.perf_counter()
    try:
        module.float()  # converted and checked in fp32; the precision hint decides what runs
        log.info("openvino: converting %s (first use; cached in %s)", model.name, folder.parent)
        COUNTS["convert"] += 1
        try:
            program = _trace(ov, model)
        except Exception as exc:  # any failure of the converter means: run in torch
            check = {"ok": False, "reason": f"it did not convert ({_conversion_failure(exc)})"}
        else:
            ov.save_model(program, str(folder / "model.xml"), compress_to_fp16=False)
            check = _check(ov, program, model)
    finally:
        module.to(dtype)
    check["convert_s"] = round(time.perf_counter() - started, 3)
    (folder / "check.json").write_text(json.dumps(check, indent=1))


def _trace(ov: Any, model: LoadedModel) -> Any:
    torch = _torch()

    example = _example(model, (EXAMPLE_SIDE, EXAMPLE_SIDE), batch=1)
    if model.takes_latent:
        shape = ov.PartialShape([-1, *model.latent_shape])
    else:
        shape = ov.PartialShape([-1, model.in_channels, -1, -1])
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the tracer's notes are about torch internals, not the user's
        # traced here without torch's own re-run check (a third of the conversion time): the probe
        # in _check compares with torch on another shape, which is the check that matters
        traced = torch.jit.trace(forward_module(model), example, check_trace=False, strict=False)
        return ov.convert_model(traced, example_input=example, input=[shape])


def _example(model: LoadedModel, side: tuple[int, int], batch: int) -> torch.Tensor:
    torch = _torch()
    gen = torch.Generator().manual_seed(0)
    if model.takes_latent:
        assert model.latent_shape is not None
        return torch.randn(batch, *model.latent_shape, generator=gen)
    m = max(1, model.size_multiple)
    h, w = (max(model.min_size, -(-s // m) * m) for s in side)
    return torch.rand(batch, model.in_channels, h, w, generator=gen)


def _check(ov: Any, program: Any, model: LoadedModel) -> dict[str, Any]:
    """Run the program in f32 on a probe of another shape (and batch) and compare with torch fp32."""
    torch = _torch()
    COUNTS["check"] += 1
    probe = _example(model, PROBE_SHAPE, batch=2)
    try:
        compiled = ov.Core().compile_model(program, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        got = torch.from_numpy(compiled(probe.numpy())[0].copy())
    except Exception as exc:
        return {"ok": False, "reason": f"OpenVINO cannot run it ({_first_line(exc)})"}
    with torch.no_grad():
        want = model.forward(probe).float()
    from genedit_core.sdk import probe_check

    shape = "x".join(map(str, probe.shape))
    return probe_check(got, want, shape, TOLERANCE, shape_note="(the trace kept the example's shape)")


def _compiled(ov: Any, entry: Path, precision: str) -> Any:
    """The compiled program for ``precision``: imported from its blob, else compiled and exported."""
    torch = _torch()
    core = ov.Core()
    config = {
        "INFERENCE_PRECISION_HINT": precision,
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": torch.get_num_threads(),
    }
    blob = blob_path(entry, precision)
    if blob.is_file():
        try:
            compiled = core.import_model(io.BytesIO(blob.read_bytes()), "CPU", config)
        except Exception as exc:  # a damaged or foreign blob: compile again and replace it
            log.info("openvino: %s unreadable (%s); compiling again", blob, _first_line(exc))
        else:
            COUNTS["blob_cache_hit"] += 1
            return compiled
    COUNTS["compile"] += 1
    compiled = core.compile_model(core.read_model(str(entry / "model.xml")), "CPU", config)
    try:
        exported = compiled.export_model()  # bytes, or a BytesIO in newer releases
        write_atomic(blob, exported.getvalue() if hasattr(exported, "getvalue") else exported)
    except OSError as exc:  # a read-only cache still runs, it only compiles again next time
        log.info("openvino: could not cache %s (%s)", blob, exc)
    return compiled


def _wrap(model: LoadedModel, compiled: Any, precision: str, entry: Path) -> LoadedModel:
    torch = _torch()

    def forward(x: torch.Tensor) -> torch.Tensor:
        arr = x.detach().to("cpu", torch.float32).contiguous().numpy()
        y = compiled(arr)[0]  # a copy: the request's buffer is reused by the next call
        return torch.from_numpy(y).to(x.device)

    return replace(
        model,
        # numpy wants plain NCHW, so the tiler's channels-last step would only add a copy
        card=replace(model.card, channels_last=False),
        forward=forward,
        backend="openvino",
        hyperparameters={**model.hyperparameters, "openvino": {"precision": precision, "cache": str(entry)}},
    )


def _conversion_failure(exc: BaseException) -> str:
    """The operations OpenVINO could not convert, from its report, else the error's first line."""
    for line in str(exc).splitlines():
        line = line.strip(" -")
        if line.startswith("No conversion rule found for operations:"):
            return "OpenVINO has no conversion for " + line.split(":", 1)[1].strip()[:160]
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _torch() -> Any:
    import torch

    return torch
