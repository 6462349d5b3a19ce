"""The method and format names this plugin answers, with one-line summaries (no torch here)."""

from __future__ import annotations

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
