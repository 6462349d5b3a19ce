"""Image in, image out: the path every editing task shares.

Splits colour from alpha, turns grey into RGB for the model and back, hands the colour tensor to the
plugin's ``edit`` hook (which runs the network through the tiler), and resizes alpha to match, so
transparency is kept rather than dropped or blackened.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import PluginError, UsageError
from .images import ImageData
from .requests import EditRequest

if TYPE_CHECKING:
    from .model import LoadedModel


def apply(
    model: LoadedModel,
    image: ImageData,
    *,
    task: str,
    tile: int | str | None = "auto",
    overlap: int | None = None,
    params: dict[str, Any] | None = None,
    progress=None,
) -> ImageData:
    import torch
    import torch.nn.functional as F

    from .plugins import get_plugins
    from .tiling import DEFAULT_OVERLAP, run_with_oom_retry

    if task not in model.card.tasks:
        raise UsageError(f"model '{model.name}' does not do '{task}' (it does: {', '.join(model.card.tasks)})")
    pix = image.pixels
    colour_ch = 1 if image.channels in (1, 2) else 3
    colour = pix[..., :colour_ch]
    alpha = pix[..., colour_ch:] if image.has_alpha else None
    if colour_ch == 1 and model.in_channels == 3:
        colour = np.repeat(colour, 3, axis=2)
    x = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None].float()
    tiler = functools.partial(
        run_with_oom_retry, tile=tile, overlap=DEFAULT_OVERLAP if overlap is None else overlap, progress=progress
    )
    request = EditRequest(task=task, card=model.card, model=model, image=x, tiler=tiler, params=dict(params or {}))
    y = get_plugins().hook.edit(request=request)
    if y is None:
        raise PluginError(f"no installed plugin answers task '{task}' for model '{model.name}'")
    y = y.detach().float().clamp_(0, 1)[0]
    out = y.numpy().transpose(1, 2, 0)
    if colour_ch == 1 and out.shape[2] == 3:
        out = out.mean(axis=2, keepdims=True)
    if alpha is not None:
        a = torch.from_numpy(np.ascontiguousarray(alpha.transpose(2, 0, 1)))[None]
        if a.shape[-2:] != y.shape[-2:]:
            a = F.interpolate(a, size=tuple(y.shape[-2:]), mode="bicubic", align_corners=False)
        out = np.concatenate([out, a.clamp(0, 1)[0].numpy().transpose(1, 2, 0)], axis=2)
    return image.with_pixels(np.ascontiguousarray(out, dtype=np.float32))


def apply_to_pil(model: LoadedModel, pil_image: Any, *, task: str, tile=None, overlap=None) -> Any:
    """PIL in, PIL out; keeps mode (L, LA, RGB, RGBA) and the ICC profile."""
    from PIL import Image

    arr = np.asarray(pil_image.convert("RGBA" if "A" in pil_image.mode else ("L" if pil_image.mode == "L" else "RGB")))
    arr = (arr.astype(np.float32) / 255.0).reshape(arr.shape[0], arr.shape[1], -1)
    result = apply(model, ImageData(arr, icc_profile=pil_image.info.get("icc_profile")), task=task, tile=tile, overlap=overlap)
    out = np.round(np.clip(result.pixels, 0, 1) * 255).astype(np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[out.shape[2]]
    im = Image.fromarray(out[..., 0] if out.shape[2] == 1 else out, mode=mode)
    if result.icc_profile:
        im.info["icc_profile"] = result.icc_profile
    return im
