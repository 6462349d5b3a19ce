"""Everything a genedit plugin may use from the core, in one module: ``from genedit_core.sdk import ...``.

Why one module: plugins are released on their own schedule, so what they import is a promise the
core keeps across releases. The promise is ``__all__`` below; every other module of
``genedit_core`` is the core's own and may change without notice. docs/plugins.md documents
exactly this surface, grouped as here.

Importing this module costs no torch (plugin entry points are imported by ``genedit list`` and
``--help``): what a hooks module needs at import (``hookimpl``, cards, errors, options) is imported
directly, everything else loads on first use through a module ``__getattr__``, the way
:mod:`genedit_core` does. ``from genedit_core.sdk import LoadedModel``
inside a hook body, or at the top of a module only hook bodies import, is always fine.

Commands of a plugin's own (``register_commands``) also use :mod:`genedit_cli.sdk` for consoles,
progress and extra ``--key value`` options.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .cards import ModelCard, WeightFile, WeightVariant, bundled_variant, read_weights_manifest
from .errors import GeneditError, ImageError, PluginError, UsageError, WeightsError
from .hookspecs import hookimpl
from .options import Option, check_task_params
from .params import get_bool, get_choice, get_float, get_int, get_size, parse_index_ranges

if TYPE_CHECKING:
    from .api import GeneditWarning, get_card, list_models, load
    from .artifacts import forward_module, model_fields, probe_check, publish_folder, tensors_sha256
    from .autobackend import cpu_name, device_key, installed_backends, record_backend_times
    from .batch import BatchProgress, BatchReport, FileResult, run_batch
    from .checkpoint import canonicalize, load_state_dict, load_strict
    from .datasets import SampleSet
    from .device import cpu_flags, cpu_has_int8_dot, cpu_has_native_bf16, dtype_name, is_x86
    from .hooktypes import (
        Backend,
        EditResult,
        EvalReport,
        ExportReport,
        ModuleBackend,
        RegisterDataset,
        RegisterMethod,
        RegisterModel,
        Tiler,
        TinyWeights,
    )
    from .imageops import downscale, lab_to_rgb, luminance, make_grid, rgb_to_lab, xdog
    from .images import read_image
    from .metrics import psnr, sr_metrics, ssim
    from .metrics_generative import class_histogram, fid, inception_score, kid
    from .model import LoadedModel
    from .plugins import get_plugins
    from .progress import ProgressFn, StepProgress, activity, silent, silent_steps
    from .requests import (
        EditRequest,
        EvalRequest,
        ExportRequest,
        GenerateRequest,
        LoadRequest,
        OptimizeRequest,
        TrainRequest,
        TransformRequest,
    )
    from .tiling import run_with_oom_retry
    from .training import StepContext, Trainer, TrainTask, unwrap
    from .training.config import DEFAULTS as TRAIN_DEFAULTS
    from .training.config import Field, deep_merge, fields_from, load_config
    from .training.data import ImageFolder, digits_dataset, random_patch, reference_images, resolve_data
    from .weights import ResolvedWeights, genedit_cache_dir, hub_error, sha256_of

__all__ = [
    # declaring models and hooks
    "ModelCard",
    "SampleSet",
    "WeightFile",
    "WeightVariant",
    "__version__",
    "bundled_variant",
    "hookimpl",
    "read_weights_manifest",
    # what hooks receive
    "EditRequest",
    "EvalRequest",
    "ExportRequest",
    "GenerateRequest",
    "LoadRequest",
    "OptimizeRequest",
    "ResolvedWeights",
    "TrainRequest",
    "TransformRequest",
    # what hooks return, and the callables they get
    "Backend",
    "EditResult",
    "EvalReport",
    "ExportReport",
    "LoadedModel",
    "ModuleBackend",
    "RegisterDataset",
    "RegisterMethod",
    "RegisterModel",
    "Tiler",
    "TinyWeights",
    # errors and warnings
    "GeneditError",
    "GeneditWarning",
    "ImageError",
    "PluginError",
    "UsageError",
    "WeightsError",
    # options from request.params
    "Option",
    "check_task_params",
    "get_bool",
    "get_choice",
    "get_float",
    "get_int",
    "get_size",
    "parse_index_ranges",
    # progress
    "ProgressFn",
    "StepProgress",
    "silent_steps",
    "silent",
    "activity",
    # the Python API and the loaded plugin set
    "get_card",
    "get_plugins",
    "list_models",
    "load",
    # batches (front ends of their own: a plugin's command or server)
    "BatchProgress",
    "BatchReport",
    "FileResult",
    "run_batch",
    # images, tiling, metrics
    "class_histogram",
    "downscale",
    "fid",
    "inception_score",
    "kid",
    "lab_to_rgb",
    "luminance",
    "make_grid",
    "psnr",
    "read_image",
    "rgb_to_lab",
    "run_with_oom_retry",
    "sr_metrics",
    "ssim",
    "xdog",
    # checkpoints and weights files
    "canonicalize",
    "genedit_cache_dir",
    "hub_error",
    "load_state_dict",
    "load_strict",
    "sha256_of",
    # devices
    "cpu_flags",
    "cpu_has_int8_dot",
    "cpu_has_native_bf16",
    "cpu_name",
    "device_key",
    "dtype_name",
    "is_x86",
    # runtimes (genedit.backends) and the table --backend auto reads
    "forward_module",
    "installed_backends",
    "model_fields",
    "probe_check",
    "publish_folder",
    "record_backend_times",
    "tensors_sha256",
    # training
    "Field",
    "ImageFolder",
    "StepContext",
    "TRAIN_DEFAULTS",
    "TrainTask",
    "Trainer",
    "deep_merge",
    "digits_dataset",
    "fields_from",
    "load_config",
    "random_patch",
    "reference_images",
    "resolve_data",
    "unwrap",
]

# name -> (module relative to genedit_core, attribute there); loaded on first use.
_LAZY: dict[str, tuple[str, str]] = {
    "SampleSet": ("datasets", "SampleSet"),
    "Backend": ("hooktypes", "Backend"),
    "EditResult": ("hooktypes", "EditResult"),
    "EvalReport": ("hooktypes", "EvalReport"),
    "ExportReport": ("hooktypes", "ExportReport"),
    "ModuleBackend": ("hooktypes", "ModuleBackend"),
    "RegisterDataset": ("hooktypes", "RegisterDataset"),
    "RegisterMethod": ("hooktypes", "RegisterMethod"),
    "RegisterModel": ("hooktypes", "RegisterModel"),
    "Tiler": ("hooktypes", "Tiler"),
    "TinyWeights": ("hooktypes", "TinyWeights"),
    "ProgressFn": ("progress", "ProgressFn"),
    "StepProgress": ("progress", "StepProgress"),
    "silent_steps": ("progress", "silent_steps"),
    "silent": ("progress", "silent"),
    "activity": ("progress", "activity"),
    "EditRequest": ("requests", "EditRequest"),
    "EvalRequest": ("requests", "EvalRequest"),
    "ExportRequest": ("requests", "ExportRequest"),
    "GenerateRequest": ("requests", "GenerateRequest"),
    "LoadRequest": ("requests", "LoadRequest"),
    "OptimizeRequest": ("requests", "OptimizeRequest"),
    "TrainRequest": ("requests", "TrainRequest"),
    "TransformRequest": ("requests", "TransformRequest"),
    "GeneditWarning": ("api", "GeneditWarning"),
    "get_card": ("api", "get_card"),
    "list_models": ("api", "list_models"),
    "load": ("api", "load"),
    "run_batch": ("batch", "run_batch"),
    "forward_module": ("artifacts", "forward_module"),
    "publish_folder": ("artifacts", "publish_folder"),
    "model_fields": ("artifacts", "model_fields"),
    "probe_check": ("artifacts", "probe_check"),
    "tensors_sha256": ("artifacts", "tensors_sha256"),
    "BatchProgress": ("batch", "BatchProgress"),
    "BatchReport": ("batch", "BatchReport"),
    "FileResult": ("batch", "FileResult"),
    "get_plugins": ("plugins", "get_plugins"),
    "LoadedModel": ("model", "LoadedModel"),
    "ResolvedWeights": ("weights", "ResolvedWeights"),
    "hub_error": ("weights", "hub_error"),
    "genedit_cache_dir": ("weights", "genedit_cache_dir"),
    "sha256_of": ("weights", "sha256_of"),
    "canonicalize": ("checkpoint", "canonicalize"),
    "load_state_dict": ("checkpoint", "load_state_dict"),
    "load_strict": ("checkpoint", "load_strict"),
    "make_grid": ("imageops", "make_grid"),
    "downscale": ("imageops", "downscale"),
    "rgb_to_lab": ("imageops", "rgb_to_lab"),
    "lab_to_rgb": ("imageops", "lab_to_rgb"),
    "luminance": ("imageops", "luminance"),
    "xdog": ("imageops", "xdog"),
    "read_image": ("images", "read_image"),
    "run_with_oom_retry": ("tiling", "run_with_oom_retry"),
    "psnr": ("metrics", "psnr"),
    "ssim": ("metrics", "ssim"),
    "sr_metrics": ("metrics", "sr_metrics"),
    "class_histogram": ("metrics_generative", "class_histogram"),
    "fid": ("metrics_generative", "fid"),
    "inception_score": ("metrics_generative", "inception_score"),
    "kid": ("metrics_generative", "kid"),
    "cpu_flags": ("device", "cpu_flags"),
    "cpu_has_int8_dot": ("device", "cpu_has_int8_dot"),
    "cpu_has_native_bf16": ("device", "cpu_has_native_bf16"),
    "dtype_name": ("device", "dtype_name"),
    "is_x86": ("device", "is_x86"),
    "cpu_name": ("autobackend", "cpu_name"),
    "device_key": ("autobackend", "device_key"),
    "installed_backends": ("autobackend", "installed_backends"),
    "record_backend_times": ("autobackend", "record_backend_times"),
    "TrainTask": ("training.task", "TrainTask"),
    "StepContext": ("training.context", "StepContext"),
    "Trainer": ("training.trainer", "Trainer"),
    "unwrap": ("training.distributed", "unwrap"),
    "Field": ("training.config", "Field"),
    "TRAIN_DEFAULTS": ("training.config", "DEFAULTS"),
    "deep_merge": ("training.config", "deep_merge"),
    "fields_from": ("training.config", "fields_from"),
    "load_config": ("training.config", "load_config"),
    "ImageFolder": ("training.data", "ImageFolder"),
    "digits_dataset": ("training.data", "digits_dataset"),
    "resolve_data": ("training.data", "resolve_data"),
    "reference_images": ("training.data", "reference_images"),
    "random_patch": ("training.data", "random_patch"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        # Not cached in this module: the name always follows its home module, so a test (or a
        # tool) that patches genedit_core.api.load is seen by every plugin, in any test order.
        return getattr(importlib.import_module(f".{module}", "genedit_core"), attr)
    raise AttributeError(f"module 'genedit_core.sdk' has no attribute '{name}' (see its __all__)")


def __dir__() -> list[str]:
    return sorted(__all__)
