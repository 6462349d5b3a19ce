"""Seamless (Poisson) blending, written in torch: no OpenCV needed.

Imports torch, so only hook bodies import this module. Pasting a swapped face leaves a step
wherever its colours differ from the photo's along the mask's edge (faceswap #30). Pérez et al.
(2003) keep the swapped face's gradients inside the region and the photo's values on its border;
written as ``out = source + c``, the correction ``c`` is the harmonic membrane (Δc = 0 inside)
that equals ``target − source`` on the border, so the face's detail stays and only a smooth
colour shift is added. The sparse system is solved by conjugate gradients on the region's
bounding box, all channels at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _neighbour_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of each pixel's four neighbours (zero beyond the edge) of C×H×W ``x``."""
    p = F.pad(x, (1, 1, 1, 1))
    return p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:]


def poisson_blend(
    target: torch.Tensor,
    source: torch.Tensor,
    region: torch.Tensor,
    iterations: int = 1000,
    tol: float = 1e-5,
) -> torch.Tensor:
    """``target`` (C×H×W) with ``source`` cloned into ``region`` (H×W bool) seamlessly.

    Outside ``region`` the result is ``target`` exactly. The region's pixels on the image's own
    edge are taken as border (they have no outside neighbour to match).
    """
    inside = region.clone()
    inside[0, :] = inside[-1, :] = inside[:, 0] = inside[:, -1] = False
    if not inside.any():
        return target.clone()
    ys, xs = torch.nonzero(inside, as_tuple=True)
    y1, y2, x1, x2 = int(ys.min()) - 1, int(ys.max()) + 2, int(xs.min()) - 1, int(xs.max()) + 2
    t, s = target[:, y1:y2, x1:x2].double(), source[:, y1:y2, x1:x2].double()
    m = inside[y1:y2, x1:x2].to(t.dtype)[None]
    # Known values are the border's: target − source outside the region.
    rhs = _neighbour_sum((t - s) * (1 - m)) * m

    def apply(c: torch.Tensor) -> torch.Tensor:  # the 5-point Laplacian, negated, on the region
        return (4 * c - _neighbour_sum(c * m)) * m

    c = torch.zeros_like(t)
    r = rhs - apply(c)
    p = r.clone()
    rs = (r * r).sum((1, 2))
    scale = (rhs * rhs).sum((1, 2)).clamp(min=1e-30)
    for _ in range(iterations):
        if bool((rs <= tol**2 * scale).all()):
            break
        ap = apply(p)
        alpha = rs / (p * ap).sum((1, 2)).clamp(min=1e-30)
        c = c + alpha[:, None, None] * p
        r = r - alpha[:, None, None] * ap
        rs_new = (r * r).sum((1, 2))
        p = r + (rs_new / rs.clamp(min=1e-30))[:, None, None] * p
        rs = rs_new
    out = target.clone()
    patch = torch.where(m.bool(), s + c, t).to(target.dtype)
    out[:, y1:y2, x1:x2] = patch
    return out
