"""The method and format names this plugin answers, their summaries and their options (no torch here).

Each method declares every ``--key value`` option it reads from ``request.params``, with its type,
default and help: ``genedit optimize --help`` lists them, and the commands refuse any other option
before loading a model (``--ammount 0.5`` is exit 2, not silently ignored). The defaults written
here are the ones the method modules use; they are shown, not applied, from this table.
"""

from __future__ import annotations

from genedit_core.sdk import Option

OPTIMIZE_METHODS: dict[str, str] = {
    "accelerate": "channels_last + bf16 (where native) + torch.compile; saves nothing new, reports the speed-up",
    "prune-unstructured": "global or per-layer L1 magnitude pruning to a target sparsity, masks made permanent",
    "prune-structured": "remove whole conv channels, keeping residual adds, pixel-shuffle groups and norms consistent",
    "quantize-int8": "post-training static int8 (ONNX Runtime QDQ, or PT2E + X86Inductor + torch.compile), calibrated",
    "depthwise-separable": "replace k×k convs by depthwise + pointwise pairs, distilled layer by layer",
    "sparsity": "2:4 semi-structured sparsity (speed-up on CUDA Ampere+ only)",
}

EXPORT_FORMATS: dict[str, str] = {
    "safetensors": "the module's state dict as model.safetensors + config.json",
    "onnx": "ONNX (opset 18, dynamic batch/height/width), verified with onnxruntime",
    "torch-export": "a torch.export ExportedProgram (.pt2), reloaded and verified",
}

# Read by the driver every optimize method runs in (optimizing.py): the before/after measurements.
MEASURE_OPTIONS: tuple[Option, ...] = (
    Option(
        "eval",
        str,
        "builtin:skimage-photos:heldout",
        "images scored before and after: a folder, builtin:NAME, or none",
    ),
    Option("eval_crop", int, 128, "size of the centre crops scored"),
    Option("eval_count", int, 5, "how many evaluation images"),
    Option("bench_size", str, "256", "input size of the timed calls, N or HxW"),
    Option("bench_batch", int, 1, "inputs per timed call"),
    Option("repeats", int, 5, "timed calls per model (the median is reported)"),
)

_CALIB = Option(
    "calib", str, "builtin:skimage-photos", "calibration and distillation images: a folder or builtin:NAME"
)
_CALIB_SIZE = Option("calib_size", int, 48, "size of the calibration and fine-tune crops")
_CALIB_COUNT = Option("calib_count", int, 16, "how many calibration crops")
_SHAPES = Option(
    "shapes",
    str,
    "bucket",
    "compile one graph per size bucket, or one with symbolic sizes",
    ("bucket", "dynamic"),
)
_AMOUNT = Option("amount", float, 0.5, "fraction to remove")
_FINETUNE = (
    Option("finetune_steps", int, 0, "steps distilling the result towards the original, 0 for none"),
    Option("finetune_pool", int, 256, "crops labelled by the original model for the fine-tune"),
    Option("finetune_batch", int, 8, "crops per fine-tune step"),
)

METHOD_OPTIONS: dict[str, tuple[Option, ...]] = {
    "accelerate": (
        Option(
            "bf16",
            bool,
            None,
            "run in bf16 (default: where the device has native bf16 and the card allows it)",
        ),
        Option("channels_last", bool, True, "channels-last memory layout"),
        _SHAPES,
        Option("bucket", int, 64, "size multiple inputs are padded to with --shapes bucket"),
    ),
    "prune-unstructured": (
        _AMOUNT,
        Option(
            "scope", str, "global", "rank all layers together, or prune each layer alike", ("global", "layer")
        ),
        Option("include_io", bool, False, "also prune the RGB-facing first and last layers"),
    ),
    "prune-structured": (
        _AMOUNT,
        Option("residual", bool, True, "also prune channels tied by residual adds"),
        *_FINETUNE,
        Option("lr", float, 1e-4, "fine-tune learning rate"),
        _CALIB,
        _CALIB_SIZE,
    ),
    "quantize-int8": (
        Option(
            "backend",
            str,
            None,
            "int8 runtime (default: onnxruntime when installed, else pt2e)",
            ("pt2e", "onnxruntime"),
        ),
        Option(
            "target",
            str,
            "auto",
            "CPU kind the int8 file is for; auto means this machine's",
            ("auto", "vnni", "avx2"),
        ),
        Option("dynamic", bool, False, "dynamic int8 for nn.Linear layers instead of static calibration"),
        _SHAPES,
        _CALIB,
        _CALIB_SIZE,
        _CALIB_COUNT,
    ),
    "depthwise-separable": (
        Option("distill_steps", int, 25, "distillation steps per replaced layer"),
        Option("lr", float, 1e-3, "distillation learning rate"),
        *_FINETUNE,
        Option("finetune_lr", float, 1e-4, "fine-tune learning rate"),
        _CALIB,
        _CALIB_SIZE,
        _CALIB_COUNT,
    ),
    "sparsity": (Option("force", bool, False, "write 2:4-pruned weights even where they give no speed-up"),),
}

_TOLERANCE = Option("tolerance", float, 1e-4, "largest absolute difference to PyTorch accepted")
_DYNAMIC = Option("dynamic_size", bool, True, "symbolic batch, height and width")
FORMAT_OPTIONS: dict[str, tuple[Option, ...]] = {
    "safetensors": (),
    "onnx": (_DYNAMIC, Option("opset", int, 18, "ONNX opset"), _TOLERANCE),
    "torch-export": (_DYNAMIC, _TOLERANCE),
}


def optimize_options(method: str) -> tuple[Option, ...]:
    """Every option ``genedit optimize --method METHOD`` accepts: the measurements', then the method's."""
    return MEASURE_OPTIONS + METHOD_OPTIONS[method]
