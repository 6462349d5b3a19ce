"""``levin``: Levin, Lischinski and Weiss 2004, "Colorization using optimization", on line art.

Every pixel's colour should be the weighted mean of its 3×3 neighbours' colours, with weights that
fall with the intensity difference, ``exp(-(Y_r - Y_s)^2 / σ_r^2)`` (σ_r² from the window's variance,
as in the paper), so colour flows along paper and stops at lines; hinted pixels keep their colour.
That is one sparse linear system for all three channels, factorised once (scipy's SuperLU). Here
the intensity Y is the line drawing, and the colours propagated are RGB, multiplied by the line
art afterwards so lines stay dark; without hints the output is the line art.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SIGMA_SCALE = 0.6  # σ_r² = 0.6 · window variance, floored
SIGMA_FLOOR = 2e-6


def levin_fill(line: np.ndarray, colours: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """3×H×W colouring of an H×W line drawing from 3×H×W hint colours where ``mask`` (H×W) is set."""
    from scipy import ndimage, sparse
    from scipy.sparse.linalg import splu

    h, w = line.shape
    hinted = (mask > 0.5).ravel()
    if not hinted.any():
        return np.repeat(line[None], 3, axis=0)
    y = line.astype(np.float64)
    mean = ndimage.uniform_filter(y, 3, mode="nearest")
    var = np.maximum(ndimage.uniform_filter(y * y, 3, mode="nearest") - mean**2, 0)
    sigma2 = np.maximum(SIGMA_SCALE * var, SIGMA_FLOOR)
    idx = np.arange(h * w).reshape(h, w)
    rows, cols, vals = [], [], []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            ys, xs = slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx))
            yn, xn = slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx))
            rows.append(idx[ys, xs].ravel())
            cols.append(idx[yn, xn].ravel())
            vals.append(np.exp(-((y[ys, xs] - y[yn, xn]) ** 2) / sigma2[ys, xs]).ravel())
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    weights = sparse.csr_matrix((v, (r, c)), shape=(h * w, h * w))
    sums = np.asarray(weights.sum(axis=1)).ravel()
    weights = sparse.diags(1.0 / np.maximum(sums, 1e-12)) @ weights
    free = sparse.diags((~hinted).astype(np.float64))
    a = (sparse.identity(h * w) - free @ weights).tocsc()  # hinted rows: x_r = hint
    b = np.where(hinted[:, None], colours.reshape(3, -1).T, 0.0)
    x = splu(a).solve(b)
    return np.clip(x.T.reshape(3, h, w), 0, 1) * y[None]


class LevinFill(nn.Module):
    """``forward(line, hints, mask)`` like the paints network, solving per image on the CPU."""

    def forward(self, line: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outs = [
            torch.from_numpy(levin_fill(ln[0].double().cpu().numpy(), h.double().cpu().numpy(),
                                        m[0].double().cpu().numpy()))
            for ln, h, m in zip(line, hints, mask)
        ]  # fmt: skip
        return torch.stack(outs).to(device=line.device, dtype=line.dtype)
