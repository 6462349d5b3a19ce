"""``sparsity``: 2:4 semi-structured sparsity (two zeros in every four weights along the input).

NVIDIA Ampere and newer GPUs run such weights in sparse tensor cores, up to 2× faster matmuls;
PyTorch exposes that as ``to_sparse_semi_structured`` for ``nn.Linear`` weights (fp16/bf16). No
CPU kernel uses the pattern, and PyTorch has no semi-structured conv, so on a CPU (or for a pure
conv network) the method refuses with a message saying so, unless ``--force true`` asks for the
pattern anyway (e.g. to deploy the weights on a GPU later). The folder holds the 2:4-pruned weights
dense; loading it on such a GPU converts the Linear layers again (:mod:`.artifacts`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import UsageError, get_bool

from ._wrap import require_module, state_for_saving
from .optimizing import Context, Outcome


def two_four_mask(w: torch.Tensor) -> torch.Tensor:
    """Keep the two largest |w| in each group of four consecutive input weights."""
    flat = w.reshape(w.shape[0], -1)
    cols = flat.shape[1] - flat.shape[1] % 4
    groups = flat[:, :cols].abs().reshape(flat.shape[0], -1, 4)
    idx = groups.topk(2, dim=-1).indices
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, idx, True).reshape(flat.shape[0], cols)
    full = torch.ones_like(flat, dtype=torch.bool)
    full[:, :cols] = mask
    return full.reshape(w.shape)


def cuda_supports_2_4(device: Any) -> bool:
    return getattr(device, "type", "cpu") == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8


def apply(model: Any, ctx: Context) -> Outcome:
    module = require_module(model)
    force = get_bool(ctx.params, "force", False)
    on_gpu = cuda_supports_2_4(model.device)
    if not on_gpu and not force:
        raise UsageError(
            f"--method sparsity: 2:4 semi-structured sparsity gives no speed-up on {model.device} (it needs an "
            "NVIDIA GPU of compute capability 8.0+, Ampere or newer); use --device cuda there, or --force true to "
            "write 2:4-pruned weights anyway"
        )
    layers = {
        n: m
        for n, m in module.named_modules()
        if isinstance(m, (nn.Linear, nn.Conv2d)) and m.weight[0].numel() >= 4
    }
    with torch.no_grad():
        for m in layers.values():
            m.weight.mul_(two_four_mask(m.weight))
    # Counted while every weight is still dense: semi-structured tensors support only matmul-like ops.
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    # Saved dense (safetensors stores no semi-structured tensor); loading converts them again.
    dense = state_for_saving(module)
    converted = to_sparse_kernels(module) if on_gpu else []
    note = (
        f"{len(converted)} Linear layer(s) run on sparse tensor cores"
        if converted
        else "2:4 pattern written; no layer runs a sparse kernel here (PyTorch has semi-structured kernels for "
        "fp16/bf16 Linear layers on CUDA only, none for convs)"
    )
    return Outcome(
        forward=model.forward,
        details={"layers": len(layers), "sparse_kernels": converted, "zeros": zeros, "note": note},
        state=dense,
        transform=True,
    )


def to_sparse_kernels(module: nn.Module) -> list[str]:
    """Run the fp16/bf16 Linear layers on semi-structured sparse kernels; returns their names.

    For a CUDA device of compute capability 8.0+ only (:func:`cuda_supports_2_4`); layers whose
    weights torch cannot convert stay dense.
    """
    from torch.sparse import to_sparse_semi_structured

    converted = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Linear) and m.weight.dtype in (torch.float16, torch.bfloat16):
            try:
                m.weight = nn.Parameter(to_sparse_semi_structured(m.weight.detach()), requires_grad=False)
                converted.append(name)
            except (RuntimeError, ValueError):
                pass
    return converted
