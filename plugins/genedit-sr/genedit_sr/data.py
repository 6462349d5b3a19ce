"""Training pairs for super-resolution: random HR crops and their downscaled LR inputs.

Augmentation draws from the ``torch.Generator`` the core's :class:`SeededBatches` passes to
:meth:`SRPatches.get`, seeded from (seed, epoch, position), so a resumed run sees exactly the crops
and flips an uninterrupted one would. The LR side is :func:`genedit_core.imageops.downscale`, the
same degradation SR evaluation and genedit-compress's quality check use.
"""

from __future__ import annotations

from typing import Any

import torch

from genedit_core.sdk import UsageError, downscale, random_patch


class SRPatches:
    """Random HR crops with flips/rotations, paired with their bicubic-downscaled LR version.

    ``source`` is any map-style dataset of C×H×W images (or (image, label) pairs); images smaller than
    an HR patch are left out. Crops are drawn in proportion to image area, and ``length`` makes an
    epoch of that many crops regardless of how few source images there are.
    """

    def __init__(self, source: Any, scale: int, patch: int = 48, length: int = 1000, augment: bool = True):
        self.images = [
            _rgb(source[i][0] if isinstance(source[i], tuple) else source[i], i) for i in range(len(source))
        ]
        self.scale, self.patch, self.length, self.augment = scale, patch, length, augment
        hp = patch * scale
        small = [i for i, im in enumerate(self.images) if min(im.shape[-2:]) < hp]
        if len(small) == len(self.images):
            raise UsageError(f"every training image is smaller than the HR patch {hp}px; lower data.patch")
        self.images = [im for i, im in enumerate(self.images) if i not in small]
        areas = torch.tensor([im.shape[-1] * im.shape[-2] for im in self.images], dtype=torch.float64)
        self.weights = areas / areas.sum()

    def __len__(self) -> int:
        return self.length

    def get(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One (LR, HR) pair drawn with ``gen``; ``index`` only counts (the crop comes from ``gen``)."""
        hr = random_patch(self.images, self.weights, self.patch * self.scale, gen, flips=self.augment)
        return downscale(hr, self.scale), hr

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get(index, torch.Generator().manual_seed(index))


def _rgb(image: torch.Tensor, index: int) -> torch.Tensor:
    """The SR networks take RGB: grey (with or without alpha) is repeated, alpha dropped, as a folder
    of images is read for training and as ``genedit run`` treats grey and RGBA inputs."""
    channels = image.shape[0] if image.dim() == 3 else 0
    if channels in (1, 2):
        return image[:1].expand(3, -1, -1)
    if channels in (3, 4):
        return image[:3]
    raise UsageError(
        f"training image {index} has shape {tuple(image.shape)}; expected C×H×W with 1 to 4 channels"
    )
