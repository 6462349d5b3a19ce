"""Biharmonic and harmonic hole fills written in torch: the coarse stage of the inpainting network.

Why in torch and not scikit-image or OpenCV: the network is then one self-contained module (no
NumPy round trip, any device, batches of different holes, export sees plain tensor ops). Why
biharmonic: on held-out photos with 10-30 % strokes-and-boxes holes it is the best of the classical
fills (scikit-image's ``inpaint_biharmonic`` beats OpenCV's Telea and Navier-Stokes by 0.7 dB in the
hole, ``benchmarks/restore_report.py``). This solve matches scikit-image's on narrow holes (a test
checks it); on the wide holes of full-size photos it scores higher, since a fixed number of steps
stops short of convergence and so overshoots less.

How: the unknown pixels ``u`` minimise ``‖Δu‖²`` with the known pixels fixed, i.e. they solve
``M Δ² u = 0`` on the hole ``M`` (Δ the 4-neighbour graph Laplacian, zero flux at the image border,
so the operator is symmetric and conjugate gradients apply). Plain iterations converge slowly on
wide holes, so the solve is nested coarse-to-fine: the image and hole are halved (mean of the known
pixels of each 2×2 block; a block with any known pixel is known) until the hole is gone or the side
is tiny, each level starts from the bilinear upsampling of the level below, and a fixed number of
conjugate-gradient steps finishes it. A fixed number of steps keeps the cost and the result
deterministic. No parameters, no gradients needed (callers run it under ``no_grad``). The fill is
global (a wide hole draws on pixels far away), which is why the network is not tiled.

The harmonic fill (``‖∇u‖²``, i.e. ``M Δu = 0``: each hole pixel the mean of its neighbours) is
solved the same way. It continues values but not slopes, so it never overshoots: deep inside a wide
hole it sits nearer the boundary's average, where the biharmonic fill extrapolates a slope past
what the photo does. Near the boundary the biharmonic fill continues edges and ramps better. Which
one is closer depends on the hole and the picture; the network's gate tries to learn it, and gains
little over the plain mean of the two (docs/models/gated-unet.md).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Conjugate-gradient steps per pyramid level: a fixed cost, and a solution close to the exact one.
CG_STEPS = 20


def laplacian(u: torch.Tensor) -> torch.Tensor:
    """4-neighbour graph Laplacian of N×C×H×W ``u``; a border pixel has no outside neighbours."""
    n, c, h, w = u.shape
    kernel = u.new_tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    p = F.pad(u.reshape(n * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
    return F.conv2d(p, kernel).view(n, c, h, w)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum((-2, -1), keepdim=True)


def _conjugate_gradients(u: torch.Tensor, hole: torch.Tensor, steps: int, order: int) -> torch.Tensor:
    """``steps`` CG iterations on ``hole·(-Δ)^order u = 0`` from ``u`` (per image and channel);
    order 2 is biharmonic, 1 harmonic (``-Δ`` restricted to the hole is positive definite)."""

    def op(v: torch.Tensor) -> torch.Tensor:
        return hole * laplacian(laplacian(v)) if order == 2 else -hole * laplacian(v)

    r = -op(u)
    p = r
    rr = _dot(r, r)
    for _ in range(steps):
        ap = op(p)
        alpha = rr / _dot(p, ap).clamp(min=1e-20)
        u = u + alpha * p
        r = r - alpha * ap
        rr_new = _dot(r, r)
        p = r + (rr_new / rr.clamp(min=1e-20)) * p
        rr = rr_new
    return u


def biharmonic_fill(x: torch.Tensor, hole: torch.Tensor, steps: int = CG_STEPS) -> torch.Tensor:
    """``x`` (N×C×H×W) with the pixels where ``hole`` (N×1×H×W, 1 = hole) is set filled smoothly
    from the rest; pixels outside the hole are returned unchanged. Computed in float32."""
    with torch.autocast(x.device.type, enabled=False):  # CG needs float32, even in a bf16 step
        return _fill(x, hole, steps, order=2)


def harmonic_fill(x: torch.Tensor, hole: torch.Tensor, steps: int = CG_STEPS) -> torch.Tensor:
    """As :func:`biharmonic_fill`, but each hole pixel tends to the mean of its neighbours
    (``Δu = 0``): no slope is carried into the hole, so no overshoot. Computed in float32."""
    with torch.autocast(x.device.type, enabled=False):
        return _fill(x, hole, steps, order=1)


def _fill(x: torch.Tensor, hole: torch.Tensor, steps: int, order: int) -> torch.Tensor:
    dtype = x.dtype
    x, hole = x.float(), (hole > 0.5).float()
    known = 1 - hole
    # No branch on the data (only on the shape), so tracing and torch.export see one graph; an
    # empty hole costs the same work and changes nothing (its CG steps are zero).
    if min(x.shape[-2:]) <= 4:
        mean = _dot(x, known) / _dot(known, known).clamp(min=1)
        return (x * known + mean * hole).to(dtype)
    pooled_known = F.avg_pool2d(known, 2, ceil_mode=True)
    coarse_x = F.avg_pool2d(x * known, 2, ceil_mode=True) / pooled_known.clamp(min=1e-6)
    coarse = _fill(coarse_x, (pooled_known == 0).float(), steps, order)
    up = F.interpolate(coarse, scale_factor=2, mode="bilinear", align_corners=False)
    u = x * known + up[..., : x.shape[-2], : x.shape[-1]] * hole
    return _conjugate_gradients(u, hole, steps, order).to(dtype)
