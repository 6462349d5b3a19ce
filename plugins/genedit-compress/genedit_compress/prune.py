"""``prune-unstructured``: L1 magnitude pruning of conv / linear weights, made permanent.

``--amount 0.5`` is the fraction of weights set to zero; ``--scope global`` ranks all layers'
weights together (layers with many small weights lose more), ``--scope layer`` prunes each layer by
the same fraction. Biases, norms and the 3-channel first/last layers are kept unless
``--include-io true``. torch.nn.utils.prune's masks are applied and then removed, so the zeros are
in the weights themselves. Dense kernels gain no speed from zeros; the gain is storage:
``model.sparse.safetensors`` keeps only the non-zero values plus a packed bitmask, written when it
is smaller than the dense file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune as tprune

from genedit_core.sdk import get_bool, get_choice, get_float

from ._wrap import conv_layers, require_module
from .optimizing import Context, Outcome

SPARSE_NAME = "model.sparse.safetensors"


def prunable(module: nn.Module, model: Any, include_io: bool) -> dict[str, nn.Module]:
    layers = conv_layers(module)
    if include_io:
        return layers
    io = {model.in_channels, model.out_channels}
    keep = {}
    for name, m in layers.items():
        cin = getattr(m, "in_channels", getattr(m, "in_features", 0))
        cout = getattr(m, "out_channels", getattr(m, "out_features", 0))
        if cin in io and cin < 8 or cout in io and cout < 8:
            continue  # the layers touching RGB are tiny and matter most for quality
        keep[name] = m
    return keep


def apply(model: Any, ctx: Context) -> Outcome:
    module = require_module(model)
    amount = get_float(ctx.params, "amount", 0.5, lo=0.0, hi=0.99)
    scope = get_choice(ctx.params, "scope", "global", ("global", "layer"))
    layers = prunable(module, model, get_bool(ctx.params, "include_io", False))
    if not layers:
        raise ValueError("no conv or linear layers to prune")
    for m in layers.values():
        # Weights loaded from some checkpoints are strided views (ESPCN's are); torch's pruning
        # flattens them with .view(-1), which needs contiguous memory. Same Parameter, new storage.
        if not m.weight.is_contiguous():
            m.weight.data = m.weight.data.contiguous()
    pairs = [(m, "weight") for m in layers.values()]
    if scope == "global":
        tprune.global_unstructured(pairs, pruning_method=tprune.L1Unstructured, amount=amount)
    else:
        for m, name in pairs:
            tprune.l1_unstructured(m, name, amount=amount)
    for m, name in pairs:
        tprune.remove(m, name)  # permanent: the zeros now live in .weight, no mask/orig parameters
    per_layer = {n: round(float((m.weight == 0).float().mean()), 4) for n, m in layers.items()}
    total = sum(m.weight.numel() for m in layers.values())
    zeros = sum(int((m.weight == 0).sum()) for m in layers.values())
    sparse_path = ctx.out / SPARSE_NAME
    dense_bytes, sparse_bytes = write_sparse(module, sparse_path)
    files = [SPARSE_NAME] if sparse_bytes < dense_bytes else []
    if not files:
        sparse_path.unlink()
    return Outcome(
        forward=model.forward,
        details={
            "scope": scope,
            "target_sparsity": amount,
            "sparsity_pruned_layers": round(zeros / total, 4),
            "sparsity_per_layer": per_layer,
            "dense_bytes": dense_bytes,
            "sparse_bytes": sparse_bytes,
            "sparse_file_written": bool(files),
            "note": "dense kernels do not skip zeros: expect no speed-up, only smaller sparse storage",
        },
        stored_bytes_after=min(dense_bytes, sparse_bytes),
        files=files,
    )


def write_sparse(module: nn.Module, path) -> tuple[int, int]:
    """Values + packed bitmask per tensor; returns (dense bytes, sparse bytes) of the two encodings."""
    from safetensors.torch import save, save_file

    from ._wrap import state_for_saving

    state = state_for_saving(module)
    out: dict[str, torch.Tensor] = {}
    shapes: dict[str, str] = {}
    for k, v in state.items():
        flat = v.reshape(-1)
        nz = flat != 0
        if v.is_floating_point() and v.numel() >= 64 and float(nz.float().mean()) < 0.9:
            out[f"{k}::values"] = flat[nz].contiguous()
            out[f"{k}::mask"] = torch.from_numpy(np.packbits(nz.numpy().astype(np.uint8)))
            shapes[k] = ",".join(map(str, v.shape))
        else:
            out[k] = v
    save_file(
        out,
        str(path),
        metadata={"genedit_sparse": "values+packbits", **{f"shape:{k}": s for k, s in shapes.items()}},
    )
    return len(save(state)), path.stat().st_size


def read_sparse(path) -> dict[str, torch.Tensor]:
    """The dense state dict back from :func:`write_sparse`'s file."""
    from safetensors import safe_open

    state: dict[str, torch.Tensor] = {}
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
        for key in f.keys():  # noqa: SIM118 (safe_open is not a dict)
            if key.endswith("::mask"):
                continue
            if key.endswith("::values"):
                name = key[: -len("::values")]
                shape = [int(s) for s in meta[f"shape:{name}"].split(",")]
                numel = int(np.prod(shape))
                mask = np.unpackbits(f.get_tensor(f"{name}::mask").numpy())[:numel].astype(bool)
                values = f.get_tensor(key)
                dense = torch.zeros(numel, dtype=values.dtype)
                dense[torch.from_numpy(mask)] = values
                state[name] = dense.reshape(shape)
            else:
                state[key] = f.get_tensor(key)
    return state
