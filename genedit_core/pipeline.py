"""Image in, image(s) out: the path every editing task shares.

Splits colour from alpha, turns grey into RGB for the model and back, hands the colour tensor to the
plugin's ``edit`` hook (which runs the network through the tiler), and resizes alpha to match, so
transparency is kept rather than dropped or blackened. A hook may return one tensor or a list of
tensors (several outputs for one input, e.g. samples); group tasks get every input at once.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import PluginError, UsageError
from .images import ImageData
from .requests import EditRequest

if TYPE_CHECKING:
    import torch

    from .model import LoadedModel


def is_group_task(model: LoadedModel, task: str) -> bool:
    return task in tuple(model.card.extra.get("group_tasks", ()))


def _split(image: ImageData, model: LoadedModel) -> tuple[torch.Tensor, np.ndarray | None, int]:
    import torch

    pix = image.pixels
    colour_ch = 1 if image.channels in (1, 2) else 3
    colour = pix[..., :colour_ch]
    alpha = pix[..., colour_ch:] if image.has_alpha else None
    if colour_ch == 1 and model.in_channels == 3:
        colour = np.repeat(colour, 3, axis=2)
    x = torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))[None].float()
    return x, alpha, colour_ch


def _out_channels(model: LoadedModel, task: str, colour_ch: int) -> int:
    """Grey in gives grey out, unless the card declares the task a colour task
    (``ModelCard.colour_tasks``, e.g. sketch-to-image fed a grey line drawing)."""
    return 3 if task in model.card.colour_tasks else colour_ch


def _merge(y: torch.Tensor, alpha: np.ndarray | None, colour_ch: int, like: ImageData) -> ImageData:
    import torch
    import torch.nn.functional as F

    y = y.detach().float().cpu().clamp(0, 1)
    if y.ndim == 4:
        y = y[0]
    out = y.numpy().transpose(1, 2, 0)
    if colour_ch == 1 and out.shape[2] == 3:
        out = out.mean(axis=2, keepdims=True)
    if alpha is not None and out.shape[2] in (1, 3):
        a = torch.from_numpy(np.ascontiguousarray(alpha.transpose(2, 0, 1)))[None]
        if a.shape[-2:] != y.shape[-2:]:
            a = F.interpolate(a, size=tuple(y.shape[-2:]), mode="bicubic", align_corners=False)
        out = np.concatenate([out, a.clamp(0, 1)[0].numpy().transpose(1, 2, 0)], axis=2)
    return like.with_pixels(np.ascontiguousarray(out, dtype=np.float32))


def _request(model: LoadedModel, task: str, tile, overlap, params, progress) -> EditRequest:
    from .tiling import DEFAULT_OVERLAP, run_with_oom_retry

    if task not in model.card.tasks:
        raise UsageError(
            f"model '{model.name}' does not do '{task}' (it does: {', '.join(model.card.tasks)})"
        )
    tiler = functools.partial(
        run_with_oom_retry,
        tile=tile,
        overlap=DEFAULT_OVERLAP if overlap is None else overlap,
        progress=progress,
    )
    return EditRequest(
        task=task, card=model.card, model=model, image=None, tiler=tiler, params=dict(params or {})
    )


def _call_edit(request: EditRequest) -> list[torch.Tensor]:
    from .plugins import get_plugins

    result = get_plugins().owner_hook("edit", request.card)(request=request)
    if result is None:
        raise PluginError(
            f"no installed plugin answers task '{request.task}' for model '{request.card.name}'"
        )
    return list(result) if isinstance(result, (list, tuple)) else [result]


def apply_all(
    model: LoadedModel,
    image: ImageData,
    *,
    task: str,
    tile: int | str | None = "auto",
    overlap: int | None = None,
    params: dict[str, Any] | None = None,
    progress=None,
) -> list[ImageData]:
    """Run ``task`` on one image; every output the plugin returns, alpha and depth kept."""
    request = _request(model, task, tile, overlap, params, progress)
    x, alpha, colour_ch = _split(image, model)
    request.image = x
    return [_merge(y, alpha, _out_channels(model, task, colour_ch), image) for y in _call_edit(request)]


def apply(model: LoadedModel, image: ImageData, *, task: str, **kwargs: Any) -> ImageData:
    """Single-output form of :func:`apply_all`."""
    outputs = apply_all(model, image, task=task, **kwargs)
    if len(outputs) != 1:
        raise PluginError(f"task '{task}' of '{model.name}' returned {len(outputs)} images, expected one")
    return outputs[0]


def apply_group(
    model: LoadedModel, images: list[ImageData], *, task: str, params: dict[str, Any] | None = None
) -> list[ImageData]:
    """Tasks that take all inputs together (e.g. latent interpolation between A and B)."""
    request = _request(model, task, None, None, params, None)
    parts = [_split(im, model) for im in images]
    request.images = [p[0] for p in parts]  # type: ignore[attr-defined]
    _, alpha, colour_ch = parts[0]
    return [_merge(y, None, _out_channels(model, task, colour_ch), images[0]) for y in _call_edit(request)]


def apply_to_pil(model: LoadedModel, pil_image: Any, *, task: str, tile=None, overlap=None) -> Any:
    """PIL in, PIL out; keeps mode (L, LA, RGB, RGBA) and the ICC profile."""
    from PIL import Image

    mode = "RGBA" if "A" in pil_image.mode else ("L" if pil_image.mode == "L" else "RGB")
    arr = np.asarray(pil_image.convert(mode))
    arr = (arr.astype(np.float32) / 255.0).reshape(arr.shape[0], arr.shape[1], -1)
    image = ImageData(arr, icc_profile=pil_image.info.get("icc_profile"))
    result = apply(model, image, task=task, tile=tile, overlap=overlap)
    out = np.round(np.clip(result.pixels, 0, 1) * 255).astype(np.uint8)
    out_mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[out.shape[2]]
    im = Image.fromarray(out[..., 0] if out.shape[2] == 1 else out, mode=out_mode)
    if result.icc_profile:
        im.info["icc_profile"] = result.icc_profile
    return im
