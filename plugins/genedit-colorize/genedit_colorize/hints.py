"""Colour hints: simulated for training (Zhang et al. 2017) and read from a user's hints image.

A hint map is RGB plus a mask channel: where the mask is 1 the RGB is a colour the user asked for,
elsewhere both are 0. Training samples them the way Zhang et al. 2017 ("Real-Time User-Guided Image
Colorization with Learned Deep Priors", section 3.1) simulate a user: a number of points drawn from a
geometric distribution (p = 1/8), each a square patch of side 1 to 9 pixels at a location drawn
from a 2-D Gaussian around the centre (σ = a quarter of the side), filled with the target's mean
colour over the patch.
"""

from __future__ import annotations

import math

import torch

P_GEOMETRIC = 1.0 / 8.0
MAX_PATCH = 9


def simulate_hints(
    target: torch.Tensor,
    generator: torch.Generator,
    p: float = P_GEOMETRIC,
    max_patch: int = MAX_PATCH,
    count: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(3×H×W hint colours, 1×H×W mask) sampled from the 3×H×W ``target`` in 0-1.

    ``count`` fixes the number of points (evaluation at 0, 1, 5, 20 hints); otherwise it is drawn
    from a geometric distribution on 0, 1, 2, ... with success probability ``p``, so some samples
    have no hint at all and the model learns to colour on its own too.
    """
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if max_patch < 1:
        raise ValueError(f"max_patch must be at least 1, got {max_patch}")
    _, h, w = target.shape
    if count is None:
        count = sample_count(generator, p)
    colours = torch.zeros(3, h, w, dtype=target.dtype)
    mask = torch.zeros(1, h, w, dtype=target.dtype)
    for _ in range(count):
        size = int(torch.randint(1, max_patch + 1, (), generator=generator))
        size = min(size, h, w)
        cy, cx = torch.randn(2, generator=generator).tolist()
        y = min(max(int(round(h / 2 + cy * h / 4)) - size // 2, 0), h - size)
        x = min(max(int(round(w / 2 + cx * w / 4)) - size // 2, 0), w - size)
        patch = target[:3, y : y + size, x : x + size]
        colours[:, y : y + size, x : x + size] = patch.mean(dim=(1, 2), keepdim=True)
        mask[:, y : y + size, x : x + size] = 1.0
    return colours, mask


def sample_count(generator: torch.Generator, p: float = P_GEOMETRIC) -> int:
    """A number of hints from the geometric distribution on 0, 1, 2, ... (failures before the first
    success, probability ``p``; mean ``(1-p)/p``), by its inverse CDF."""
    if not 0 < p <= 1:
        raise ValueError(f"p must be in (0, 1], got {p}")
    if p == 1:
        return 0
    u = float(torch.rand((), generator=generator, dtype=torch.float64))
    return int(math.floor(math.log1p(-u) / math.log1p(-p)))


def hints_from_rgba(rgba: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(3×H×W colours, 1×H×W mask) from a 4×H×W hints image: pixels more than half opaque are hints."""
    mask = (rgba[3:4] > 0.5).to(rgba.dtype)
    return rgba[:3] * mask, mask


POINT_SIZE = 5  # side of the square a --hint X,Y,#rrggbb paints: the middle of training's 1-9 patches


def parse_hint(text: str) -> tuple[int, int, tuple[float, float, float]]:
    """(x, y, (r, g, b) in 0-1) from ``X,Y,#rrggbb`` (or ``#rgb``); a bad one is a one-line UsageError."""
    from genedit_core.sdk import UsageError

    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 3:
        raise UsageError(f"--hint {text}: expected X,Y,#rrggbb (e.g. 120,80,#d03030)")
    try:
        x, y = int(parts[0]), int(parts[1])
    except ValueError:
        raise UsageError(f"--hint {text}: X and Y must be whole pixel numbers (X,Y,#rrggbb)") from None
    colour = parts[2]
    digits = colour[1:]
    if not (
        colour.startswith("#")
        and len(digits) in (3, 6)
        and all(c in "0123456789abcdefABCDEF" for c in digits)
    ):
        raise UsageError(f"--hint {text}: '{colour}' is not a colour; write it as #rrggbb (e.g. #d03030)")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    rgb = tuple(int(digits[i : i + 2], 16) / 255.0 for i in (0, 2, 4))
    return x, y, rgb  # type: ignore[return-value]


def paint_hints(
    colours: torch.Tensor, mask: torch.Tensor, hints: list[tuple[int, int, tuple[float, float, float]]]
) -> None:
    """Paint each (x, y, rgb) hint as a ``POINT_SIZE`` square (clipped at the border) into the
    3×H×W ``colours`` and 1×H×W ``mask``, in place; the caller has checked the points are inside."""
    _, h, w = colours.shape
    r = POINT_SIZE // 2
    for x, y, rgb in hints:
        ys, xs = slice(max(0, y - r), min(h, y + r + 1)), slice(max(0, x - r), min(w, x + r + 1))
        colours[:, ys, xs] = torch.tensor(rgb, dtype=colours.dtype)[:, None, None]
        mask[:, ys, xs] = 1.0
