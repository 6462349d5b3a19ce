"""Tiled inference without seams, one tile on the device at a time.

Each output tile is computed from its input tile plus ``overlap`` pixels of real context on every
side, and only the centre is kept. The default overlap is the model's ``receptive_field`` (rounded
up to its ``size_multiple``, so pixel-unshuffle models see tiles on the same grid as the whole
image): every kept pixel then sees exactly the neighbourhood it sees in a full-image pass, and tiled
and untiled outputs agree to float rounding. A smaller overlap is allowed, with a warning.
The image itself stays on the CPU; only the current tile moves to the model's device.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .model import LoadedModel

MIN_TILE = 32
#: fp32 bytes per input pixel assumed for models that do not state ``activation_bytes_per_pixel``:
#: a 64-feature network holding six feature maps, at x1.
FALLBACK_BYTES_PER_PIXEL = 4 * 64 * 6


def _align(n: int, multiple: int) -> int:
    m = max(1, int(multiple))
    return -(-int(n) // m) * m


def default_overlap(model: LoadedModel) -> int:
    """Context per side that makes tiles seamless: the receptive field, up to ``size_multiple``."""
    return _align(max(0, math.ceil(model.receptive_field)), model.size_multiple)


def resolve_overlap(model: LoadedModel, overlap: int | None) -> int:
    """``overlap`` aligned to the model's ``size_multiple``; ``None`` means :func:`default_overlap`."""
    if overlap is None:
        return default_overlap(model)
    return _align(max(0, overlap), model.size_multiple)


def _warn_short_overlap(model: LoadedModel, overlap: int) -> None:
    import warnings

    from .api import GeneditWarning

    reach = math.ceil(model.receptive_field)
    warnings.warn(
        f"tile overlap {overlap} is below the receptive field of model '{model.name}' ({reach} pixels): "
        f"tile seams may show; the default overlap ({default_overlap(model)}) avoids them",
        GeneditWarning,
        stacklevel=3,
    )


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

    _non_finite(model, int((~torch.isfinite(y)).sum()), y.numel())


def _non_finite(model: Any, bad: int, total: int) -> None:
    from .errors import NonFiniteOutputError
    from .pipeline import describe_model

    if bad:  # else the sum only overflowed
        raise NonFiniteOutputError(
            f"{describe_model(model)}: the network produced {bad:,} NaN or infinite value(s) of "
            f"{total:,}; the weights or the plugin are broken"
        )


def run_tiled(
    model: LoadedModel,
    x: torch.Tensor,
    tile: int | None,
    overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``model`` to ``x`` (N×C×H×W on the CPU) in tiles of ``tile`` pixels (None: whole).

    ``overlap`` is the context kept around each tile (``None``: :func:`default_overlap`); one below
    the receptive field warns once, naming both numbers. Tile and overlap are rounded up to the
    model's ``size_multiple``. ``progress(done, total)`` is called once before the first tile
    (``done`` 0), so that a bar knows its total from the start, and again after every tile.
    """
    import torch

    return _tiled(model, x, tile, overlap, progress, run_model, torch.empty)


def _tiled(
    model: Any,
    x: Any,
    tile: int | None,
    overlap: int | None,
    progress: Callable[[int, int], None] | None,
    run: Callable[[Any, Any], Any],
    empty: Callable[..., Any],
) -> Any:
    """The tile loop, for torch tensors and numpy arrays alike: ``run(model, piece)`` is one
    forward pass, ``empty(n, c, h, w, dtype=...)`` makes the output."""
    h, w = x.shape[-2:]
    if not tile or not model.tileable or (h <= tile and w <= tile):
        if progress:
            progress(0, 1)
        out = run(model, x)
        if progress:
            progress(1, 1)
        return out
    s = model.scale
    tile = _align(max(tile, MIN_TILE), model.size_multiple)
    overlap = resolve_overlap(model, overlap)
    if overlap < model.receptive_field:
        _warn_short_overlap(model, overlap)
    ys = list(range(0, h, tile))
    xs = list(range(0, w, tile))
    out = None
    total, done = len(ys) * len(xs), 0
    if progress:
        progress(0, total)
    for y0 in ys:
        for x0 in xs:
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            cy0, cx0 = max(y0 - overlap, 0), max(x0 - overlap, 0)
            cy1, cx1 = min(y1 + overlap, h), min(x1 + overlap, w)
            piece = run(model, x[..., cy0:cy1, cx0:cx1])
            if out is None:
                out = empty(x.shape[0], piece.shape[1], h * s, w * s, dtype=piece.dtype)
            oy, ox = (y0 - cy0) * s, (x0 - cx0) * s
            out[..., y0 * s : y1 * s, x0 * s : x1 * s] = piece[
                ..., oy : oy + (y1 - y0) * s, ox : ox + (x1 - x0) * s
            ]
            done += 1
            if progress:
                progress(done, total)
    assert out is not None
    return out


# -- the same tiler on numpy arrays, for a cached program run without torch (genedit_core.warm) ------


def round_to_dtype(x: np.ndarray, dtype: str) -> np.ndarray:
    """``x`` (float32) as the torch tiler hands it to a model of ``dtype`` (``"bf16"``: rounded to
    bfloat16, to nearest even, as ``tensor.to(torch.bfloat16)`` does), back in float32."""
    import numpy as np

    if dtype == "bf16":
        bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
        rounded = (bits + (np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1)))) & np.uint32(
            0xFFFF0000
        )
        return rounded.view(np.float32)
    if dtype == "fp16":
        return x.astype(np.float16).astype(np.float32)
    return x


def run_model_array(model: Any, x: np.ndarray) -> np.ndarray:
    """:func:`run_model` for numpy: the same padding to ``size_multiple`` (reflected, else
    replicated), the same rounding to the model's dtype, the same refusal of NaN/inf and crop.

    ``model`` has the geometry of a :class:`LoadedModel`, ``dtype`` a name (``"bf16"``) and
    ``forward``, a function of float32 N×C×H×W arrays.
    """
    import numpy as np

    h, w = x.shape[-2:]
    m = model.size_multiple
    ph, pw = (-h) % m, (-w) % m
    xin = x
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "edge"
        xin = np.pad(xin, ((0, 0), (0, 0), (0, ph), (0, pw)), mode=mode)
    xin = round_to_dtype(np.ascontiguousarray(xin, dtype=np.float32), str(model.dtype))
    y = np.asarray(model.forward(xin), dtype=np.float32)
    if not np.isfinite(y.sum(dtype=np.float32)):
        _non_finite(model, int((~np.isfinite(y)).sum()), y.size)
    s = y.shape[-1] // xin.shape[-1] if xin.shape[-1] else model.scale
    if ph or pw:
        y = y[..., : h * s, : w * s]
    return np.ascontiguousarray(y)


def run_tiled_array(
    model: Any,
    x: np.ndarray,
    tile: int | str | None,
    overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """:func:`run_with_oom_retry` for numpy arrays (N×C×H×W float32): ``tile`` ``"auto"``, a size or
    None, the same tiles, overlap and progress calls, so the output equals the torch tiler's for
    the same forward. There is no device memory to run out of: no retry."""
    import numpy as np

    h, w = x.shape[-2:]
    size = auto_tile(model, h, w, overlap) if tile == "auto" else (int(tile) if tile else None)

    def empty(*shape: int, dtype: Any) -> np.ndarray:
        return np.empty(shape, dtype=dtype)

    return _tiled(model, x, size, resolve_overlap(model, overlap), progress, run_model_array, empty)


def bytes_per_pixel(model: LoadedModel) -> float:
    """Peak activation bytes per input pixel at the model's dtype.

    From the model's own description (``LoadedModel.activation_bytes_per_pixel``, fp32 bytes,
    scaled here for 2-byte dtypes); a model that states none is assumed to hold six maps of 64
    features at its output resolution (:data:`FALLBACK_BYTES_PER_PIXEL` × scale²).
    """
    stated = model.activation_bytes_per_pixel
    if stated is None:
        stated = FALLBACK_BYTES_PER_PIXEL * max(1, model.scale) ** 2
    itemsize = getattr(model.dtype, "itemsize", 4)
    return float(stated) * itemsize / 4 + 64  # + the CPU copy of input and output


def auto_tile(model: LoadedModel, h: int, w: int, overlap: int | None = None) -> int | None:
    """Pick a tile size whose pieces (tile plus ``overlap`` each side) keep activations within a
    quarter of free memory; ``None`` when the whole image fits (no tiling)."""
    per_pixel = bytes_per_pixel(model)
    budget = _free_bytes(model.device) // 4
    if h * w * per_pixel <= budget:
        return None
    context = 2 * resolve_overlap(model, overlap)
    # Multiples of MIN_TILE, not powers of two: with a wide context (RRDB reaches 348 pixels) the
    # tile is a small part of each piece, and rounding 420 down to 256 would double the work.
    side = max(MIN_TILE, (int(math.sqrt(budget / per_pixel)) - context) // MIN_TILE * MIN_TILE)
    return _align(side, model.size_multiple)


def _free_bytes(device) -> int:
    if getattr(device, "type", "cpu") == "cuda":
        import torch  # only here: the warm path sizes CPU tiles without torch

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
    overlap: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """``run_tiled`` with ``tile='auto'`` support; on device out-of-memory, halve the tile and retry.

    At the smallest tile the context is what remains to give: the overlap is halved (down to 0),
    which warns that seams may show, rather than failing an image that fits with less context.
    """
    import torch

    h, w = x.shape[-2:]
    size = auto_tile(model, h, w, overlap) if tile == "auto" else (int(tile) if tile else None)
    context = resolve_overlap(model, overlap)
    while True:
        try:
            return run_tiled(model, x, size, context, progress)
        except torch.OutOfMemoryError:
            if getattr(model.device, "type", "cpu") == "cuda":
                torch.cuda.empty_cache()
            current = size or max(h, w)
            if current > MIN_TILE:
                size = max(MIN_TILE, current // 2)
            elif size is not None and max(h, w) > size and context > 0 and model.tileable:
                context //= 2
            else:
                raise
