"""The ``paints`` generator: a small U-Net from line art plus a hint map to a colour image.

Input channels: line art (1), hint colours (3), hint mask (1), the layout of Zhang et al. 2017's
user-guided network (there ab + mask on L; here RGB + mask on the line drawing). Two stride-2
levels with skip connections, ReLU convs, a sigmoid output in 0-1. Any size runs: the input is
padded to a multiple of 4 by reflection and the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IN_CHANNELS = 5


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
    )  # fmt: skip


class PaintsUNet(nn.Module):
    """``forward(line N×1×H×W, hints N×3×H×W, mask N×1×H×W) -> N×3×H×W`` in 0-1."""

    def __init__(self, features: int = 32):
        super().__init__()
        f = features
        self.features = f
        self.enc1 = _block(IN_CHANNELS, f)
        self.enc2 = _block(f, 2 * f)
        self.mid = _block(2 * f, 4 * f)
        self.up2 = nn.ConvTranspose2d(4 * f, 2 * f, 2, stride=2)
        self.dec2 = _block(4 * f, 2 * f)
        self.up1 = nn.ConvTranspose2d(2 * f, f, 2, stride=2)
        self.dec1 = _block(2 * f, f)
        self.out = nn.Conv2d(f, 3, 1)

    def forward(self, line: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = line.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        x = torch.cat([line, hints, mask], dim=1)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        m = self.mid(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
        return torch.sigmoid(self.out(d1))[..., :h, :w]


def from_state(state: dict, origin: str) -> PaintsUNet:
    """The network ``state`` fits (its width read from ``enc1.0.weight``), loaded strictly."""
    from genedit_core.sdk import WeightsError, load_strict

    first = state.get("enc1.0.weight")
    if first is None or first.ndim != 4 or first.shape[1] != IN_CHANNELS:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not paints weights (need enc1.0.weight with 5 input channels; found {found})"
        )
    module = PaintsUNet(int(first.shape[0]))
    load_strict(module, state, origin)
    return module
