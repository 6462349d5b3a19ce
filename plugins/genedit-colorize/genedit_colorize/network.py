"""The ``paints`` generator: a U-Net from line art plus a hint map to a colour image.

Input channels: line art (1), hint colours (3), hint mask (1), the layout of Zhang et al. 2017's
user-guided network (there ab + mask on L; here RGB + mask on the line drawing). ``levels``
stride-2 levels with skip connections, ReLU convs. Any size runs: the input is padded to a multiple
of ``2**levels`` by replication and the output cropped back.

Two output heads:

* plain (``guided=False``, the first bundled weights): a sigmoid RGB image in 0-1.
* guided (``guided=True``): a learned refinement of a region fill. The network also sees the flat
  fill of the hints (each region enclosed by lines in its hints' mean colour, paper white where no
  hint falls), which regions the fill reached, and which regions touch the image border. Its base
  is that fill with the border-touching regions left white: on clip art those are mostly the
  background, which a hint leaking through a gap in a line would flood (on 521 training-side
  drawings with 5 hints: line art alone 16.88 dB, the flat fill 15.76, this base 17.56). It
  adds a correction to the base colour (the last conv starts at zero, so an untrained network *is*
  the base) and the result is multiplied by the line art, so the strokes are kept exactly as drawn
  and the network only has to choose fill colours. The correction is additive, not in logit space:
  white paper is then exactly reachable, where a logit head pushed its bias up on every white
  pixel until the whole drawing was white. The output is clamped to 0-1 outside training.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

IN_CHANNELS = 5
GUIDE_CHANNELS = 5  # flat-fill colour (3), filled-by-a-hint (1), region touches the border (1)


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
    )  # fmt: skip


def guide_maps(line: np.ndarray, colours: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """5×H×W guide for an H×W line drawing and its 3×H×W hint colours and H×W mask: the flat fill
    before the lines are multiplied back (3), where a hinted region reaches (1), and the pixels whose
    paper region touches the image border (1)."""
    from scipy import ndimage

    from .flat import PAPER

    labels, count = ndimage.label(line > PAPER)
    out = np.zeros((GUIDE_CHANNELS, *line.shape), dtype=np.float32)
    out[:3] = 1.0
    if not count:
        return out
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    touches = np.zeros(count + 1, dtype=bool)
    touches[edge] = True
    touches[0] = False
    out[4] = touches[labels]
    hinted = mask > 0.5
    if hinted.any():
        ids = labels[hinted]
        keep = ids > 0  # a hint on a line colours nothing
        ids = ids[keep]
        n = np.bincount(ids, minlength=count + 1)
        table = np.ones((count + 1, 3))
        for c in range(3):
            sums = np.bincount(ids, weights=colours[c][hinted][keep], minlength=count + 1)
            table[:, c] = np.where(n > 0, sums / np.maximum(n, 1), 1.0)
        table[0] = 1.0
        out[:3] = table[labels].transpose(2, 0, 1)
        filled = n > 0
        filled[0] = False
        out[3] = filled[labels]
    return out


def guide_batch(line: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`guide_maps` for each image of a batch (computed on the CPU, returned like ``line``)."""
    maps = [
        guide_maps(ln[0].float().cpu().numpy(), h.float().cpu().numpy(), m[0].float().cpu().numpy())
        for ln, h, m in zip(line, hints, mask)
    ]
    return torch.from_numpy(np.stack(maps)).to(device=line.device, dtype=line.dtype)


class PaintsUNet(nn.Module):
    """``forward(line N×1×H×W, hints N×3×H×W, mask N×1×H×W) -> N×3×H×W`` in 0-1.

    ``features`` is the first level's width (doubling per level), ``levels`` the number of
    stride-2 levels (each doubles the receptive field), ``guided`` the head described above.
    """

    def __init__(self, features: int = 32, levels: int = 2, guided: bool = False):
        super().__init__()
        if levels < 1:
            raise ValueError(f"levels must be at least 1, got {levels}")
        f = features
        self.features, self.levels, self.guided = f, levels, guided
        cin = IN_CHANNELS + (GUIDE_CHANNELS if guided else 0)
        for k in range(1, levels + 1):
            setattr(self, f"enc{k}", _block(cin, f * 2 ** (k - 1)))
            cin = f * 2 ** (k - 1)
        self.mid = _block(cin, 2 * cin)
        for k in range(levels, 0, -1):
            width = f * 2 ** (k - 1)
            setattr(self, f"up{k}", nn.ConvTranspose2d(2 * width, width, 2, stride=2))
            setattr(self, f"dec{k}", _block(2 * width, width))
        self.out = nn.Conv2d(f, 3, 1)
        if guided:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, line: torch.Tensor, hints: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h, w = line.shape[-2:]
        step = 2**self.levels
        ph, pw = (-h) % step, (-w) % step
        parts = [line, hints, mask]
        if self.guided:
            if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
                # a trace would freeze this input's guide into the graph as a constant
                raise RuntimeError(
                    "a guided paints network computes its guide with scipy: it cannot be traced"
                )
            guide = guide_batch(line, hints, mask)
            parts.append(guide)
        x = torch.cat(parts, dim=1)
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for k in range(1, self.levels + 1):
            x = getattr(self, f"enc{k}")(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for k in range(self.levels, 0, -1):
            x = getattr(self, f"dec{k}")(torch.cat([getattr(self, f"up{k}")(x), skips[k - 1]], dim=1))
        delta = self.out(x)[..., :h, :w]
        if not self.guided:
            return torch.sigmoid(delta)
        base = torch.where(guide[:, 4:5] > 0, 1.0, guide[:, :3].float())
        out = (base + delta.float()) * line.float()
        # unclamped while training: a clamp would stop the gradient of a fill pushed past white
        return (out if self.training else out.clamp(0, 1)).to(delta.dtype)


def from_state(state: dict, origin: str) -> PaintsUNet:
    """The network ``state`` fits, loaded strictly: its width read from ``enc1.0.weight``, its head
    from that tensor's input channels (5 plain, 10 guided), its depth from the ``encK`` blocks."""
    from genedit_core.sdk import WeightsError, load_strict

    first = state.get("enc1.0.weight")
    allowed = (IN_CHANNELS, IN_CHANNELS + GUIDE_CHANNELS)
    if first is None or first.ndim != 4 or first.shape[1] not in allowed:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not paints weights (need enc1.0.weight with 5 or 10 input channels; found {found})"
        )
    levels = 0
    while f"enc{levels + 1}.0.weight" in state:
        levels += 1
    module = PaintsUNet(int(first.shape[0]), levels=levels, guided=first.shape[1] != IN_CHANNELS)
    load_strict(module, state, origin)
    return module
