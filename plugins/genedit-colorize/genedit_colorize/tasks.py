"""What ``edit`` does: ``lineart`` (XDoG on a photo) and ``colorize`` (line art + hints to colour).

Options are checked by genedit before any work; what needs the image (the hints image's size) is
an :class:`ImageError` naming the file. A colour photo given to ``colorize`` is turned into line
art first, with a warning, because the network was trained on XDoG line drawings only.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from genedit_core.sdk import GeneditWarning, ImageError, UsageError, get_float, luminance, read_image, xdog

from .hints import hints_from_rgba, paint_hints, parse_hint

# mean |channel - grey| above this (0-1 scale) means the input is a colour image, not line art
COLOUR_THRESHOLD = 0.02


def run_task(request) -> Any:
    if request.task == "lineart":
        return _lineart(request)
    if request.task == "colorize":
        return _colorize(request)
    return None


def xdog_params(params: dict[str, Any]) -> dict[str, float]:
    """The XDoG options of ``params`` with their defaults, range-checked (a UsageError names one)."""
    from .cards import XDOG_OPTIONS

    return {o.name: get_float(params, o.name, o.default, lo=o.low, hi=o.high) for o in XDOG_OPTIONS}


def _lineart(request) -> torch.Tensor:
    x = request.image.float()
    with torch.inference_mode():
        return xdog(x, **xdog_params(request.params))


def is_colour(x: torch.Tensor) -> bool:
    """Whether an N×3×H×W image in 0-1 holds colour (a line drawing is grey)."""
    if x.shape[1] < 3:
        return False
    return float((x[:, :3] - x[:, :3].mean(1, keepdim=True)).abs().mean()) > COLOUR_THRESHOLD


def read_hints(path: str, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(1×3×H×W colours, 1×1×H×W mask) from the hints image at ``path``; ``size`` is (H, W)."""
    image = read_image(path)
    h, w = size
    if image.pixels.shape[:2] != (h, w):
        raise ImageError(
            f"--hints {path} is {image.size[0]}×{image.size[1]}, the sketch {w}×{h}: "
            "they must be the same size"
        )
    if not image.has_alpha:
        raise UsageError(
            f"--hints {path}: has no transparency; draw the hints as opaque dots on a transparent image"
        )
    pix = torch.from_numpy(image.pixels.transpose(2, 0, 1).copy()).float()
    if pix.shape[0] == 2:  # grey + alpha
        pix = torch.cat([pix[:1].expand(3, -1, -1), pix[1:]], dim=0)
    colours, mask = hints_from_rgba(pix)
    return colours[None], mask[None]


def point_hints(texts: Any, size: tuple[int, int]) -> list[tuple[int, int, tuple[float, float, float]]]:
    """The ``--hint X,Y,#rrggbb`` values, parsed and checked to lie inside an image of ``size`` (H, W)."""
    h, w = size
    out = []
    for text in texts or ():
        x, y, rgb = parse_hint(text)
        if not (0 <= x < w and 0 <= y < h):
            raise ImageError(
                f"--hint {text}: the point ({x}, {y}) is outside the sketch, which is {w}×{h} "
                f"(X 0-{w - 1}, Y 0-{h - 1})"
            )
        out.append((x, y, rgb))
    return out


def gather_hints(params: dict[str, Any], n: int, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(N×3×H×W colours, N×1×H×W mask) from ``--hints FILE`` and every ``--hint``; ``--no-hints``
    gives none and refuses to be mixed with them. Everything is checked before any work."""
    h, w = size
    path, points = params.get("hints"), params.get("hint")
    if isinstance(points, str):  # a Python caller's single hint
        points = (points,)
    if params.get("no_hints") and (path or points):
        raise UsageError("--no-hints colours without hints: drop it, or drop --hint/--hints")
    parsed = point_hints(points, size)
    if path:
        colours, mask = read_hints(str(path), size)
        colours, mask = colours[0].clone(), mask[0].clone()
    else:
        colours, mask = torch.zeros(3, h, w), torch.zeros(1, h, w)
    paint_hints(colours, mask, parsed)
    return colours.expand(n, -1, -1, -1), mask.expand(n, -1, -1, -1)


def _colorize(request) -> torch.Tensor:
    model, x = request.model, request.image.float()
    n, _, h, w = x.shape
    colours, mask = gather_hints(request.params, n, (h, w))
    if is_colour(x):
        warnings.warn(
            "the input is a colour image, not line art: it is turned into line art by XDoG first",
            GeneditWarning,
            stacklevel=2,
        )
        line = xdog(x)
    else:
        line = luminance(x)
    dev, dt = model.device, model.dtype
    with torch.inference_mode():
        y = model.module(line.to(dev, dt), colours.to(dev, dt), mask.to(dev, dt))
    return y.float().cpu().clamp(0, 1)
