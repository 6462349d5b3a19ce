"""The warm path: a run whose converted program is already cached runs it without importing torch.

Why: with a warm cache, a whole ``genedit run upscale`` process spent more time importing torch
than anything else but the network (docs/benchmarks.md, issue 19), and a program a backend has
converted and cached does not need torch to compute. So when everything a run depends on is known
before any model is built, and a normal run of exactly that already succeeded, the batch runs the
cached program through numpy instead: read the image, tile it (:func:`genedit_core.tiling.
run_tiled_array`, the same tiles as the torch tiler), clamp, write it with its provenance.

What makes a run eligible, checked here in this order (the first that fails is logged on the
``genedit.warm`` logger, which ``genedit --verbose`` shows, and the normal path runs):

* the card declares the task a **tiled forward** (:attr:`ModelCard.tiled_forward`): its ``edit``
  is only the tiler on the network, clamped to a stated range. Nothing is guessed from the code;
* no task options, one process (no torchrun share), the CPU (``--device cpu``, or ``auto`` on a
  machine with no GPU device node, since whether torch would use one cannot be told without it);
* the weights resolve (as :func:`~genedit_core.api.load` resolves them) to a file that no method
  transformed and no other runtime runs;
* the **warm index** has an entry for this request: card and its plugin's version, the weights'
  sha256 and config, the scale and dtype asked for, the device, the CPU, the size bucket of the
  first input, the task and the genedit version. The normal path writes that entry after it ran
  the task successfully in a converting backend that can run its program alone (an optional
  ``warm_fields(model) -> dict | None`` on the backend's entry point). The entry holds what the
  build would have said: the real scale and dtype, the tiler's geometry, the model's provenance;
* ``--backend auto`` resolves, from the same table and rules as the normal path
  (:func:`genedit_core.autobackend.resolve_auto`), to that backend; or that backend was asked for;
* the backend's ``load_warm(fields) -> callable | None`` returns the program as a function of
  float32 N×C×H×W arrays (``None``: its cache entry is gone, its runtime changed version ...).

The index is ``warm.json`` in :func:`~genedit_core.weights.genedit_cache_dir`, replaced in one
rename and written under a lock, like the ``--backend auto`` table; a file that does not parse is
ignored (and replaced by the next normal run). An input the warm path cannot do as the normal path
does (one with alpha, whose resize is torch's bicubic) makes the batch load the model the normal
way, from that input on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GeneditError

if TYPE_CHECKING:
    from .cards import ModelCard
    from .images import ImageData
    from .model import LoadedModel
    from .weights import ResolvedWeights

INDEX_NAME = "warm.json"
INDEX_VERSION = 1
#: set to 0 to always take the normal path (benchmarks compare the two)
ENV_SWITCH = "GENEDIT_WARM"
#: device nodes that mean torch might pick a GPU for ``--device auto`` (NVIDIA, AMD ROCm, WSL)
GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")

log = logging.getLogger("genedit.warm")


class WarmDtype(str):
    """A dtype by name (``"bf16"``) with the ``itemsize`` the tiler's memory estimate reads."""

    itemsize: int

    def __new__(cls, name: str) -> WarmDtype:
        obj = super().__new__(cls, name)
        obj.itemsize = 2 if name in ("bf16", "fp16") else 4
        return obj


@dataclass
class WarmModel:
    """What the batch needs of a model, for a cached program run without torch.

    It has the attributes of a :class:`~genedit_core.model.LoadedModel` that the tiler, the error
    lines and the provenance read; ``forward`` takes and returns float32 numpy arrays.
    """

    card: ModelCard
    forward: Callable[[np.ndarray], np.ndarray]
    backend: str
    scale: int
    dtype: WarmDtype
    weights: ResolvedWeights
    clamp: tuple[float, float]
    in_channels: int = 3
    out_channels: int = 3
    size_multiple: int = 1
    min_size: int = 1
    tileable: bool = True
    receptive_field: int = 16
    activation_bytes_per_pixel: float | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"

    @property
    def name(self) -> str:
        return self.card.name


class WarmUnsupported(Exception):
    """This input needs the normal path (the batch loads the model and goes on with it)."""


# -- the index -------------------------------------------------------------------------------------


def index_path() -> Path:
    from .weights import genedit_cache_dir

    return genedit_cache_dir() / INDEX_NAME


def read_index(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The index's entries; empty (with a log line why) when there is none or it does not parse."""
    path = path or index_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entries = data["entries"]
        if data.get("version") != INDEX_VERSION or not isinstance(entries, dict):
            raise ValueError(f"version {data.get('version')!r}, expected {INDEX_VERSION}")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("warm: %s ignored (%s: %s)", path, type(exc).__name__, exc)
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)}


def write_index(entries: dict[str, dict[str, Any]], path: Path | None = None) -> Path:
    """Replace the index with ``entries``, atomically (see :func:`genedit_core.autobackend.write_table`)."""
    from .autobackend import write_json_atomic

    return write_json_atomic(path or index_path(), {"version": INDEX_VERSION, "entries": entries})


def request_key(
    card: ModelCard,
    task: str,
    resolved: ResolvedWeights,
    *,
    scale: int | None,
    file_spec: bool,
    dtype: str,
    device: str,
    size: tuple[int, int] | None,
) -> str:
    """The index key of a request, from what is known before any model is built."""
    from ._version import __version__
    from .autobackend import device_key, size_bucket
    from .plugins import get_plugins

    info = get_plugins().infos.get(card.plugin)
    fields = {
        "card": f"{card.plugin}:{card.name}" if card.plugin else card.name,
        "plugin_version": info.version if info is not None else "",
        "task": task,
        "weights_sha256": resolved.sha256,
        "weights_config": resolved.config,
        "weights_kind": "file" if file_spec else "variant",
        "scale": scale,
        "dtype": str(dtype).strip().lower(),
        "device": str(device).strip().lower(),
        "cpu": device_key("cpu"),
        "cpu_bf16": os.environ.get("GENEDIT_CPU_BF16"),
        "bucket": size_bucket(size),
        "genedit": __version__,
    }
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# -- the normal path records ---------------------------------------------------------------------------


def record(
    model: LoadedModel,
    task: str,
    *,
    scale: int | None,
    weights: str | None,
    dtype: str,
    device: str,
    size: tuple[int, int] | None,
    path: Path | None = None,
) -> bool:
    """After a normal run of ``task`` succeeded: remember how to run it warm, if it can be.

    True when an entry was written. Never raises: the run itself succeeded.
    """
    try:
        reason = _recordable(model, task)
        if reason:
            log.debug("warm: not recorded, %s", reason)
            return False
        from .api import find_backend

        warm_fields = getattr(find_backend(model.backend), "warm_fields", None)
        fields = warm_fields(model) if callable(warm_fields) else None
        if not fields:
            log.info("warm: not recorded, backend %s gave nothing to run warm", model.backend)
            return False
        from .device import dtype_name

        assert model.weights is not None
        file_spec = weights is not None and model.card.variant(weights) is None
        key = request_key(
            model.card,
            task,
            model.weights,
            scale=scale,
            file_spec=file_spec,
            dtype=dtype,
            device=device,
            size=size,
        )
        entry = {
            "backend": model.backend,
            "fields": fields,
            "scale": model.scale,
            "dtype": dtype_name(model.dtype),
            "geometry": {
                "in_channels": model.in_channels,
                "out_channels": model.out_channels,
                "size_multiple": model.size_multiple,
                "min_size": model.min_size,
                "tileable": model.tileable,
                "receptive_field": model.receptive_field,
                "activation_bytes_per_pixel": model.activation_bytes_per_pixel,
            },
            "provenance": model.provenance,
            "model": f"{model.card.plugin}:{model.card.name}",
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        json.dumps(entry)  # a provenance that is not JSON cannot be replayed: TypeError, not recorded
        from .autobackend import table_lock

        path = path or index_path()
        with table_lock(path):
            entries = read_index(path)
            old = (entries.get(key) or {}).get(model.backend)
            if isinstance(old, dict) and {**old, "written": ""} == {**entry, "written": ""}:
                return True  # already there: the index is not rewritten on every run
            entries[key] = {**entries.get(key, {}), model.backend: entry}
            write_index(entries, path)
        log.info("warm: recorded %s for the next run (%s)", model.backend, path)
        return True
    except Exception as exc:  # an unwritable cache, a backend that failed: the next run is normal
        log.info("warm: not recorded (%s: %s)", type(exc).__name__, exc)
        return False


def _recordable(model: LoadedModel, task: str) -> str | None:
    if task not in model.card.tiled_forward:
        return f"the card does not declare '{task}' a tiled forward"
    if model.backend == "torch":
        return "it ran in torch"
    if getattr(model.device, "type", str(model.device)) != "cpu":
        return f"it ran on {model.device}"
    if model.weights is None:
        return "no weights file"
    from .api import transform_method

    if transform_method(model.weights.config):
        return "its weights were made by a method"
    return None


# -- the warm run -------------------------------------------------------------------------------------


def accelerator_present() -> bool:
    """Whether ``--device auto`` might pick something else than the CPU here (told without torch)."""
    if sys.platform == "darwin":
        return True  # Apple MPS
    return any(os.path.exists(p) for p in GPU_NODES)


def warm_model(
    card: ModelCard,
    task: str,
    *,
    params: dict[str, Any],
    scale: int | None,
    weights: str | None,
    device: str,
    dtype: str,
    backend: str,
    size: tuple[int, int] | None,
    sharded: bool = False,
) -> WarmModel | None:
    """The cached program for this request, run without torch; ``None`` (logged why) otherwise."""
    try:
        reason, model = _warm(card, task, params, scale, weights, device, dtype, backend, size, sharded)
    except GeneditError as exc:  # the normal path raises it, as it always has
        reason, model = f"{type(exc).__name__}: {exc}", None
    except Exception as exc:  # whatever went wrong here, the normal path still runs
        reason, model = f"unexpected {type(exc).__name__}: {exc}", None
    if model is None:
        log.info("warm: normal path, %s", reason)
    else:
        log.info("warm: %s runs the cached %s program without torch", card.name, model.backend)
    return model


def _warm(
    card: ModelCard,
    task: str,
    params: dict[str, Any],
    scale: int | None,
    weights: str | None,
    device: str,
    dtype: str,
    backend: str,
    size: tuple[int, int] | None,
    sharded: bool,
) -> tuple[str, WarmModel | None]:
    if os.environ.get(ENV_SWITCH, "1").strip() == "0":
        return f"{ENV_SWITCH}=0", None
    if task not in card.tiled_forward:
        return f"model '{card.name}' does not declare '{task}' a tiled forward", None
    if params:
        return "the task has options", None
    if sharded:
        return "one share of several processes", None
    if backend == "torch":
        return "--backend torch", None
    dev = str(device).strip().lower()
    if dev not in ("auto", "cpu"):
        return f"--device {device}", None
    if dev == "auto" and accelerator_present():
        return "--device auto on a machine with a GPU (only torch can tell which device it picks)", None
    if not index_path().is_file():
        return f"no warm index ({index_path()}): the first run in a converting backend writes it", None

    from .api import BACKEND_SUFFIXES, check_scale, find_backend, transform_method
    from .weights import resolve_weights

    asked = check_scale(card, scale)
    file_spec = weights is not None and card.variant(weights) is None
    resolved = resolve_weights(card, weights, None if file_spec else asked)
    if resolved is None:
        return "the model has no weights file", None
    if transform_method(resolved.config):
        return "the weights were made by a method", None
    if Path(resolved.path).suffix.lower() in BACKEND_SUFFIXES:
        return f"{resolved.origin} is run by its own runtime", None
    key = request_key(
        card, task, resolved, scale=scale, file_spec=file_spec, dtype=dtype, device=device, size=size
    )
    by_backend = read_index().get(key)
    if not by_backend:
        return "no warm index entry for this model, weights, scale, dtype and size bucket", None
    if backend == "auto":
        from .autobackend import resolve_auto

        any_entry = next(iter(by_backend.values()))
        choice = resolve_auto(card, any_entry.get("scale"), "cpu", str(any_entry.get("dtype")), size)
        name = choice.backend
        if name == "torch" or name not in by_backend:
            return f"--backend auto chooses {name} ({choice.reason})", None
        logging.getLogger("genedit.backends").info("backend auto -> %s: %s", name, choice.reason)
    else:
        name = backend
        if name not in by_backend:
            return f"no warm index entry for --backend {name}", None
    entry = by_backend[name]
    load_warm = getattr(find_backend(name), "load_warm", None)
    if not callable(load_warm):
        return f"backend {name} cannot run a cached program alone", None
    try:
        forward = load_warm(entry.get("fields") or {})
    except Exception as exc:
        return f"backend {name} could not load its cached program ({type(exc).__name__}: {exc})", None
    if forward is None:
        return f"backend {name} has no cached program for it now", None
    if resolved.warning:  # as load() says it: which weights ran instead
        import warnings

        from .api import GeneditWarning

        warnings.warn(resolved.warning, GeneditWarning, stacklevel=3)
    geometry = entry.get("geometry") or {}
    low, high = card.tiled_forward[task]
    return "", WarmModel(
        card=card,
        forward=forward,
        backend=name,
        scale=int(entry["scale"]),
        dtype=WarmDtype(str(entry["dtype"])),
        weights=resolved,
        clamp=(float(low), float(high)),
        provenance=dict(entry.get("provenance") or {}),
        **{k: v for k, v in geometry.items() if k in _GEOMETRY},
    )


_GEOMETRY = (
    "in_channels",
    "out_channels",
    "size_multiple",
    "min_size",
    "tileable",
    "receptive_field",
    "activation_bytes_per_pixel",
)


def apply_warm(
    model: WarmModel,
    image: ImageData,
    *,
    tile: int | str | None,
    overlap: int | None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ImageData]:
    """:func:`genedit_core.pipeline.apply_all` for a tiled-forward task, on numpy.

    The same steps and arithmetic: grey repeated to RGB for an RGB model, the tiled forward,
    clamped to the card's range, then to 0–1, grey back to one channel by the mean. Raises
    :class:`WarmUnsupported` for an image with alpha.
    """
    from .pipeline import describe_model
    from .tiling import run_tiled_array

    if image.has_alpha:
        raise WarmUnsupported("an image with alpha")
    pix = image.pixels
    colour_ch = 1 if image.channels in (1, 2) else 3
    colour = pix[..., :colour_ch]
    if colour_ch == 1 and model.in_channels == 3:
        colour = np.repeat(colour, 3, axis=2)
    x = np.ascontiguousarray(colour.transpose(2, 0, 1))[None].astype(np.float32)
    if x.shape[1] != model.in_channels:
        raise WarmUnsupported(f"{x.shape[1]} channels for a model of {model.in_channels}")
    y = run_tiled_array(model, x, tile, overlap, progress)
    h, w = x.shape[-2:]
    where = f"{image.source}: " if image.source is not None else ""
    # what pipeline.check_images asks of an upscale (finite values: the tiler checked them)
    if (
        y.ndim != 4
        or y.shape[0] != 1
        or y.shape[1] not in (1, 3, 4)
        or y.shape[2:] != (h * model.scale, w * model.scale)
    ):
        from .errors import PluginError

        raise PluginError(f"{where}{describe_model(model)}: the cached program returned shape {y.shape}")
    y = np.clip(np.clip(y, *model.clamp), 0, 1)[0]
    out = y.transpose(1, 2, 0)
    if colour_ch == 1 and out.shape[2] == 3:
        out = out.mean(axis=2, keepdims=True)
    return [image.with_pixels(np.ascontiguousarray(out, dtype=np.float32))]
