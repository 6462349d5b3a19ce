"""Image in, image(s) out: the path every editing task shares.

Splits colour from alpha, turns grey into RGB for the model and back, hands the colour tensor to the
plugin's ``edit`` hook (which runs the network through the tiler), and resizes alpha to match, so
transparency is kept rather than dropped or blackened. A hook may return one tensor or a list of
tensors (several outputs for one input, e.g. samples); group tasks get every input at once.

What a plugin returns is checked before it becomes an image (:func:`check_images`): a tensor of
floats, 1, 3 or 4 channels, the size the task implies (``scale`` × the input for ``upscale``) and
only finite values. Broken weights (NaN or inf) or a plugin bug would otherwise be written as a
black, grey or tiny image with exit 0; instead the file fails with one line naming the model and
its weights, and a batch goes on with the next file.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import NonFiniteOutputError, PluginError, UsageError
from .images import ImageData
from .requests import EditRequest

if TYPE_CHECKING:
    import torch

    from .model import LoadedModel


def is_group_task(model: LoadedModel, task: str) -> bool:
    return task in model.card.group_tasks


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
    from .progress import step_progress
    from .tiling import run_with_oom_retry

    if task not in model.card.tasks:
        raise UsageError(
            f"model '{model.name}' does not do '{task}' (it does: {', '.join(model.card.tasks)})"
        )
    tiler = functools.partial(
        run_with_oom_retry,
        tile=tile,
        overlap=overlap,  # None: the model's receptive field (genedit_core.tiling.default_overlap)
        progress=progress,
    )
    return EditRequest(
        task=task,
        card=model.card,
        model=model,
        image=None,
        tiler=tiler,
        params=dict(params or {}),
        progress=step_progress(progress),
    )


def _call_edit(request: EditRequest, where: str = "") -> list[torch.Tensor]:
    from .plugins import get_plugins

    try:
        result = get_plugins().owner_hook("edit", request.card)(request=request)
    except NonFiniteOutputError as exc:  # raised by the tiler, which does not know the file
        if not where:
            raise
        raise NonFiniteOutputError(f"{where}{exc}") from None
    if result is None:
        raise PluginError(
            f"no installed plugin answers task '{request.task}' for model '{request.card.name}'"
        )
    outputs = list(result) if isinstance(result, (list, tuple)) else [result]
    if not outputs:
        raise PluginError(f"{where}{describe_model(request.model)}: task '{request.task}' returned no image")
    size = None
    if request.task == "upscale" and request.image is not None:
        scale = request.model.scale
        size = (request.image.shape[-2] * scale, request.image.shape[-1] * scale)
    for y in outputs:
        check_images(y, request.model, request.task, where=where, size=size, count=1)
    return outputs


def describe_model(model: LoadedModel) -> str:
    """``model 'espcn' x2 (weights /path/w.safetensors)``: who made an output, for error lines."""
    scale = f" x{model.scale}" if model.scale != 1 else ""
    weights = f"weights {model.weights.origin}" if model.weights is not None else "no weights"
    return f"model '{model.name}'{scale} ({weights})"


def check_images(
    y: Any,
    model: LoadedModel,
    task: str,
    *,
    where: str = "",
    size: tuple[int, int] | None = None,
    count: int | None = None,
    batched: bool = False,
) -> None:
    """Refuse an output that cannot be a picture the task asked for, before it is written.

    ``y`` must be a float tensor C×H×W or N×C×H×W (only N×C×H×W when ``batched``) with 1, 3 or 4
    channels and at least one pixel;
    ``count`` images when given (N, or 1 for C×H×W), ``size`` (H, W) when the task fixes it, and
    every value finite. A wrong shape is the plugin's fault (:class:`PluginError`); NaN or inf is
    usually the weights' (:class:`NonFiniteOutputError`, an :class:`ImageError`). ``where``
    prefixes the message (the input file).
    """
    import torch

    who = f"{where}{describe_model(model)}"
    if not isinstance(y, torch.Tensor):
        raise PluginError(f"{who}: task '{task}' returned {type(y).__name__}, not an image tensor")
    if not y.is_floating_point():
        raise PluginError(
            f"{who}: task '{task}' returned a {str(y.dtype).removeprefix('torch.')} tensor, not floats in 0–1"
        )
    shape = tuple(y.shape)
    if y.ndim not in ((4,) if batched else (3, 4)):
        expected = "N×C×H×W" if batched else "C×H×W or N×C×H×W"
        raise PluginError(f"{who}: task '{task}' returned shape {shape}, expected {expected}")
    n = y.shape[0] if y.ndim == 4 else 1
    channels, height, width = y.shape[-3:]
    if count is not None and n != count:
        raise PluginError(
            f"{who}: task '{task}' returned {n} image(s) (shape {shape}) where {count} were asked for"
        )
    if channels not in (1, 3, 4):
        raise PluginError(
            f"{who}: task '{task}' returned {channels} channels (shape {shape}); an image has 1, 3 or 4"
        )
    if height < 1 or width < 1:
        raise PluginError(f"{who}: task '{task}' returned an empty image (shape {shape})")
    if size is not None and (height, width) != tuple(size):
        raise PluginError(
            f"{who}: task '{task}' returned {width}×{height} pixels where x{model.scale} of the input "
            f"is {size[1]}×{size[0]}"
        )
    # One float32 sum is finite exactly when every value is (or it overflowed: then count), and
    # costs a tenth of an elementwise isfinite on a large image.
    if torch.isfinite(y.sum(dtype=torch.float32)):
        return
    bad = int((~torch.isfinite(y)).sum())
    if bad:
        raise NonFiniteOutputError(
            f"{who}: task '{task}' produced {bad:,} NaN or infinite value(s) of {y.numel():,}; "
            "the weights or the plugin are broken"
        )


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
    if alpha is not None:
        import torch

        request.alpha = torch.from_numpy(np.ascontiguousarray(alpha.transpose(2, 0, 1)))[None].float()
    where = f"{image.source}: " if image.source is not None else ""
    outputs = _call_edit(request, where)
    return [_merge(y, alpha, _out_channels(model, task, colour_ch), image) for y in outputs]


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
    where = f"{images[0].source}: " if images and images[0].source is not None else ""
    outputs = _call_edit(request, where)
    return [_merge(y, None, _out_channels(model, task, colour_ch), images[0]) for y in outputs]


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
