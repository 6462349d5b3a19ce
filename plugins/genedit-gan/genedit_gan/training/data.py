"""The one dataset every GAN family trains on: any image source resized to the model's size and
channels, in [-1, 1] (the range of G's tanh output), with an optional seeded horizontal flip."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


class ResizedImages:
    """Any dataset of C×H×W images in 0–1 (optionally with labels) as ``size``² in [-1, 1], ``nc`` channels."""

    def __init__(self, source: Any, size: int, nc: int, hflip: bool = False):
        self.source, self.size, self.nc, self.hflip = source, size, nc, hflip

    def __len__(self) -> int:
        return len(self.source)

    def get(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, int]:
        item = self.source[index]
        img, label = (item[0], int(item[1])) if isinstance(item, tuple) else (item, 0)
        img = _fit(img, self.size, self.nc)
        if self.hflip and int(torch.randint(0, 2, (1,), generator=gen)):
            img = img.flip(-1)
        return img * 2 - 1, label

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.get(index, torch.Generator().manual_seed(index))


def _fit(img: torch.Tensor, size: int, nc: int) -> torch.Tensor:
    c, h, w = img.shape
    if c != nc:
        img = img.mean(0, keepdim=True) if nc == 1 else img[:1].expand(nc, h, w) if c == 1 else img[:nc]
    if (h, w) != (size, size):
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        img = img[:, top : top + s, left : left + s]
        img = F.interpolate(
            img[None], size=(size, size), mode="area" if s > size else "bilinear", antialias=False
        )[0]
    return img.float().contiguous()
