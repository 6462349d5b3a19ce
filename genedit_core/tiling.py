"""Tiled inference without seams, one tile on the device at a time.

Each output tile is computed from its input tile plus ``overlap`` pixels of real context on every
side, and only the centre is kept. With enough context the convolutions see the same neighbourhood
as in a full-image pass, so tiled and untiled outputs agree (the tests hold them to ≤ 1/255).
The image itself stays on the CPU; only the current tile moves to the model's device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from .model import LoadedModel

DEFAULT_OVERLAP = 32
MIN_TILE = 32


def run_model(model: LoadedModel, x: torch.Tensor) -> torch.Tensor:
    """One forward pass on the model's device; pads to ``size_multiple`` and crops back."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    m = model.size_multiple
    ph, pw = (-h) % m, (-w) % m
    xin = x.to(model.device, non_blocking=True)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        xin = F.pad(xin, (0, pw, 0, ph), mode=mode)
    xin = xin.to(model.dtype)
    if model.card.channels_last and xin.device.type != "mps":
        xin = xin.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        y = model(xin)
    y = y.float()
    if not torch.isfinite(y.sum()):  # one reduction; a plugin's clamp afterwards would hide inf
        _refuse_non_finite(model, y)
    s = y.shape[-1] // xin.shape[-1] if xin.shape[-1] else model.scale
    if ph or pw:
        y = y[..., : h * s, : w * s]
    return y.to("cpu").contiguous()


def _refuse_non_finite(model: LoadedModel, y: torch.Tensor) -> None:
    """Raise :class:`NonFiniteOutputError` naming the model and its weights if ``y`` holds NaN/inf."""
    import torch

    from .errors import NonFiniteOutputError
    from .pipeline import describe_model

    bad = int((~torch.isfinite(y)).sum())
    if bad:  # else the sum only overflowed
        raise NonFiniteOutputError(
            f"{describe_model(model)}: the network produced {bad:,} NaN or infinite value(s) of "
            f"{y.numel():,}; the weights or the plugin are broken"
        )


def run_tiled(
    model: LoadedModel,
    x: torch.Tensor,
    tile: int | None,
    overlap: int = DEFAULT_OVERLAP,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``model`` to ``x`` (N×C×H×W on the CPU) in tiles of ``tile`` pixels (None: whole).

    ``progress(done, total)`` is called once before the first tile (``done`` 0), so that a bar
    knows its total from the start, and again after every tile.
    """
    import torch

    h, w = x.shape[-2:]
    if not tile or not model.tileable or (h <= tile and w <= tile):
        if progress:
            progress(0, 1)
        out = run_model(model, x)
        if progress:
            progress(1, 1)
        return out
    s = model.scale
    tile = max(tile, MIN_TILE)
    ys = list(range(0, h, tile))
    xs = list(range(0, w, tile))
    out: torch.Tensor | None = None
    total, done = len(ys) * len(xs), 0
    if progress:
        progress(0, total)
    for y0 in ys:
        for x0 in xs:
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            cy0, cx0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
            cy1, cx1 = min(y1 + overlap, h), min(x1 + overlap, w)
            piece = run_model(model, x[..., cy0:cy1, cx0:cx1])
            if out is None:
                out = torch.empty(x.shape[0], piece.shape[1], h * s, w * s, dtype=piece.dtype)
            oy, ox = (y0 - cy0) * s, (x0 - cx0) * s
            out[..., y0 * s : y1 * s, x0 * s : x1 * s] = piece[
                ..., oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s
            ]
            done += 1
            if progress:
                progress(done, total)
    assert out is not None
    return out


def auto_tile(model: LoadedModel, h: int, w: int) -> int | None:
    """Pick a tile size that keeps activations within a quarter of free memory (None: no tiling)."""
    free = _free_bytes(model.device)
    width = max(64, model.hyperparameters.get("num_feat", 64))
    per_pixel = 4 * width * 6 * max(1, model.scale) ** 2 // 2 + 64
    budget = free // 4
    if h * w * per_pixel <= budget:
        return None
    side = int(math.sqrt(budget / per_pixel))
    side = max(MIN_TILE, 1 << int(math.log2(max(side, MIN_TILE))))
    return side


def _free_bytes(device) -> int:
    import torch

    if getattr(device, "type", "cpu") == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.environ.get("GENEDIT_ASSUME_FREE_BYTES", 4 << 30))


def run_with_oom_retry(
    model: LoadedModel,
    x: torch.Tensor,
    tile: int | str | None,
    overlap: int = DEFAULT_OVERLAP,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``run_tiled`` with ``tile='auto'`` support; on device out-of-memory, halve the tile and retry."""
    import torch

    h, w = x.shape[-2:]
    size = auto_tile(model, h, w) if tile == "auto" else (int(tile) if tile else None)
    while True:
        try:
            return run_tiled(model, x, size, overlap, progress)
        except torch.OutOfMemoryError:
            if getattr(model.device, "type", "cpu") == "cuda":
                torch.cuda.empty_cache()
            current = size or max(h, w)
            if current <= MIN_TILE:
                raise
            size = max(MIN_TILE, current // 2)
