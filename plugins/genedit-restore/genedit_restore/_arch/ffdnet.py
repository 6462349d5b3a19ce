"""FFDNet (Zhang et al. 2018, "FFDNet: Toward a Fast and Flexible Solution for CNN-based Image
Denoising"): one network for every noise level, told σ through a noise-level map.

The image is pixel-unshuffled by 2 (4·C channels at half size), a constant map of σ (0-1 scale) is
appended as one more channel, a plain conv+ReLU stack of ``depth`` layers runs at half resolution
and its 4·C outputs are pixel-shuffled back: the output is the clean image itself, not a residual.
Odd sizes are padded by replication and cropped back. The published grey model has 15 layers of
64 features, the colour one 12 of 96. The stack is ``model`` laid out like KAIR's
``network_ffdnet.py`` (convs at the even indices, ReLUs between), so KAIR files load as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FFDNet(nn.Module):
    def __init__(self, channels: int = 3, features: int = 96, depth: int = 12, sigma: float = 25.0):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            cin = 4 * channels + 1 if i == 0 else features
            cout = 4 * channels if i == depth - 1 else features
            layers.append(nn.Conv2d(cin, cout, 3, padding=1))
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.model = nn.Sequential(*layers)
        self.channels, self.depth = channels, depth
        self.default_sigma = sigma  # 0-255, used when forward is given none (generic tools)
        self.receptive_field = 2 * depth + 2  # 3×3 convs at half resolution, plus the 2×2 unshuffle
        self.activation_bytes_per_pixel = 4.0 * features * 3 / 4

    def forward(self, x: torch.Tensor, sigma: float | torch.Tensor | None = None) -> torch.Tensor:
        """``sigma`` on the 0-1 scale (a number, or one per image); ``None``: the default σ."""
        if sigma is None:
            sigma = self.default_sigma / 255.0
        if self.channels == 1 and x.shape[1] != 1:  # a grey network denoises each channel on its own
            n, c, h, w = x.shape
            s = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1, 1).expand(n, c).reshape(-1)
            return self.forward(x.reshape(n * c, 1, h, w), s).reshape(n, c, h, w)
        n, _, h, w = x.shape
        y = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate") if (h % 2 or w % 2) else x
        y = F.pixel_unshuffle(y, 2)
        s = (
            torch.as_tensor(sigma, dtype=y.dtype, device=y.device)
            .reshape(-1, 1, 1, 1)
            .expand(n, 1, *y.shape[-2:])
        )
        y = self.model(torch.cat([y, s], dim=1))
        return F.pixel_shuffle(y, 2)[..., :h, :w]
