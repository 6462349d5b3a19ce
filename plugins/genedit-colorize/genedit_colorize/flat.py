"""``flat``: the weight-free baseline of issue 14. Each region enclosed by lines takes the mean
colour of the hints inside it; regions without a hint stay paper white; the lines are multiplied
back over the result, so they stay as dark as drawn.

Regions are the 4-connected components of paper pixels (line art above one half), found by
scipy's labelling: a gap in a line lets the colour through, as a bucket fill would.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

PAPER = 0.5


def flat_fill(line: np.ndarray, colours: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """3×H×W fill of an H×W line drawing from 3×H×W hint colours where the H×W ``mask`` is set."""
    from scipy import ndimage

    labels, count = ndimage.label(line > PAPER)
    out = np.ones((3, *line.shape), dtype=np.float64)
    hinted = mask > 0.5
    if count and hinted.any():
        ids = labels[hinted]
        keep = ids > 0  # a hint on a line colours nothing
        ids = ids[keep]
        sums = np.zeros((count + 1, 3))
        for c in range(3):
            sums[:, c] = np.bincount(ids, weights=colours[c][hinted][keep], minlength=count + 1)
        n = np.bincount(ids, minlength=count + 1)[:, None]
        table = np.where(n > 0, sums / np.maximum(n, 1), 1.0)
        table[0] = 1.0  # line pixels: paper under the line
        out = table[labels].transpose(2, 0, 1)
    return out * line[None]


class FlatFill(nn.Module):
    """``forward(line, hints, mask)`` like the paints network, filling per image on the CPU."""

    def forward(self, line: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outs = [
            torch.from_numpy(flat_fill(ln[0].double().cpu().numpy(), h.double().cpu().numpy(),
                                       m[0].double().cpu().numpy()))
            for ln, h, m in zip(line, hints, mask)
        ]  # fmt: skip
        return torch.stack(outs).to(device=line.device, dtype=line.dtype)
