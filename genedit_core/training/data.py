"""Datasets for the shared trainer: image folders, paired folders, bundled samples.

Random augmentation takes an explicit ``torch.Generator`` (see :class:`SeededBatches`), seeded from
(seed, epoch, position), so the same run resumed mid-way sees exactly the same crops and flips.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..datasets import SAMPLE_SETS, SKIMAGE_HELDOUT, SKIMAGE_TRAIN, SampleSet  # noqa: F401 (re-exported)
from ..errors import ImageError, UsageError
from ..images import SUPPORTED_SUFFIXES, read_image

log = logging.getLogger("genedit")


# --- bundled sample sets -------------------------------------------------------------------------


# What the sets are (names, licences) lives in the light genedit_core.datasets, so that
# 'genedit datasets' lists them without importing torch; loading them is done here.


def skimage_photo(name: str) -> np.ndarray:
    """One scikit-image sample as float32 H×W×3 in 0–1 (grey replicated)."""
    try:
        from skimage import data as skdata
    except ImportError:
        raise UsageError("builtin:skimage-photos needs scikit-image: pip install 'genedit[data]'") from None

    arr = getattr(skdata, name)()
    arr = np.asarray(arr)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    arr = arr.astype(np.float32) / (255.0 if arr.max() > 1 else 1.0)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    return np.ascontiguousarray(arr[..., :3])


def export_sample_set(name: str, folder: Path) -> list[Path]:
    """Write a bundled photo set as PNG files (for ``genedit eval --data``)."""
    from ..images import ImageData, write_image

    names = SKIMAGE_HELDOUT if name.endswith("heldout") else SKIMAGE_TRAIN
    return [write_image(folder / f"{n}.png", ImageData(skimage_photo(n))) for n in names]


class ArrayImages:
    """In-memory images (C×H×W float tensors) with optional labels."""

    def __init__(
        self, images: list[torch.Tensor], labels: list[int] | None = None, names: list[str] | None = None
    ):
        self.images = images
        self.labels = labels
        self.names = names or [str(i) for i in range(len(images))]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        img = self.images[index]
        return (img, self.labels[index]) if self.labels is not None else img


def digits_dataset(size: int = 32, split: str = "train", holdout: int = 297) -> ArrayImages:
    """scikit-learn digits, grey 1×size×size in 0–1, with labels. The last ``holdout`` are held out."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError("builtin:digits needs scikit-learn: pip install 'genedit[data]'") from None

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0)[:, None]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)
    y = d.target.tolist()
    n = len(y) - holdout
    sl = slice(0, n) if split == "train" else slice(n, None) if split == "heldout" else slice(None)
    return ArrayImages(list(x[sl]), y[sl])


def resolve_data(spec: str | Path | None, **kwargs: Any) -> Any:
    """``builtin:NAME[:split]`` gives a bundled set; anything else must be an existing folder."""
    if spec is None:
        raise UsageError(
            "--data is required (a folder of images, or builtin:digits / builtin:skimage-photos)"
        )
    text = str(spec)
    if text.startswith("builtin:"):
        name = text[len("builtin:") :]
        base, _, split = name.partition(":")
        if base == "digits":
            return digits_dataset(kwargs.get("size", 32), split or "train")
        if base == "skimage-photos":
            names = SKIMAGE_HELDOUT if split == "heldout" else SKIMAGE_TRAIN
            imgs = [torch.from_numpy(skimage_photo(n).transpose(2, 0, 1).copy()) for n in names]
            return ArrayImages(imgs, names=list(names))
        raise UsageError(
            f"--data {text}: unknown bundled set (have: {', '.join('builtin:' + k for k in SAMPLE_SETS)})"
        )
    path = Path(text)
    if not path.is_dir():
        raise UsageError(f"--data {text}: not a folder")
    return ImageFolder(path, channels=kwargs.get("channels", 3))


def random_patch(
    images: list[torch.Tensor], weights: torch.Tensor, size: int, gen: torch.Generator, *, flips: bool = True
) -> torch.Tensor:
    """A ``size``×``size`` crop of one of ``images`` (C×H×W, each at least ``size`` a side), picked
    with probability ``weights`` (by area: every pixel is as likely), at a random place and, with
    ``flips``, in one of the eight flips and transposes.

    Every draw comes from ``gen`` (in a fixed order: image, row, column, flips), so a resumed run
    given the same generator state sees exactly the same patches.
    """
    img = images[int(torch.multinomial(weights, 1, generator=gen))]
    h, w = img.shape[-2:]
    y = int(torch.randint(0, h - size + 1, (1,), generator=gen))
    x = int(torch.randint(0, w - size + 1, (1,), generator=gen))
    crop = img[:, y : y + size, x : x + size]
    if flips:
        flip_x, flip_y, transpose = torch.randint(0, 2, (3,), generator=gen).tolist()
        if flip_x:
            crop = crop.flip(-1)
        if flip_y:
            crop = crop.flip(-2)
        if transpose:
            crop = crop.transpose(-1, -2)
    return crop.contiguous()


def reference_images(
    data: str | Path, max_side: int | None = None, *, eight_bit: bool = False
) -> list[tuple[str, torch.Tensor]]:
    """(name, 3×H×W float tensor in 0–1) for every image of a folder or ``builtin:`` set, each
    centre-cropped to at most ``max_side`` a side (grey replicated, alpha dropped).

    Why shared: every plugin that scores an image-to-image model on held-out photos (SR tables,
    denoising, inpainting) must read the references the same way, or their figures do not compare.
    ``eight_bit`` rounds to 8-bit levels, what an image file holds, so noise or holes are added to
    exactly what a user's file would give.
    """
    dataset = resolve_data(data)
    names = getattr(dataset, "names", None) or [str(i) for i in range(len(dataset))]
    out = []
    for i in range(len(dataset)):
        item = dataset[i]
        img = (item[0] if isinstance(item, tuple) else item).float()
        img = img[:1].expand(3, -1, -1) if img.shape[0] in (1, 2) else img[:3]
        if max_side:
            h, w = img.shape[-2:]
            th, tw = min(h, max_side), min(w, max_side)
            y, x = (h - th) // 2, (w - tw) // 2
            img = img[:, y : y + th, x : x + tw]
        out.append((names[i], ((img * 255).round().div(255) if eight_bit else img).contiguous()))
    if not out:
        raise UsageError(f"--data {data}: no reference images")
    return out


# --- folders -------------------------------------------------------------------------------------


def list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)


class ImageFolder:
    """Every image under ``root`` (recursive), decoded on access; unreadable files are skipped."""

    def __init__(self, root: str | Path, channels: int = 3, preload: bool = True):
        self.root = Path(root)
        self.channels = channels
        self.images: list[torch.Tensor] = []
        self.names: list[str] = []
        self.skipped: list[str] = []
        for p in list_images(self.root):
            try:
                data = read_image(p)
            except ImageError as exc:
                log.warning("skipping %s", exc)
                self.skipped.append(str(p))
                continue
            self.images.append(_to_channels(data.pixels, channels))
            self.names.append(str(p.relative_to(self.root)))
        if not self.images:
            raise UsageError(f"--data {self.root}: no readable images found")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.images[index]


def _to_channels(pix: np.ndarray, channels: int) -> torch.Tensor:
    colour = pix[..., :1] if pix.shape[2] in (1, 2) else pix[..., :3]
    if channels == 3 and colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    elif channels == 1 and colour.shape[2] == 3:
        colour = (colour * np.array([0.299, 0.587, 0.114], dtype=np.float32)).sum(axis=2, keepdims=True)
    return torch.from_numpy(np.ascontiguousarray(colour.transpose(2, 0, 1)))


class PairedFolders:
    """Input/target pairs matched by relative path stem (e.g. noisy/ and clean/)."""

    def __init__(self, inputs: str | Path, targets: str | Path, channels: int = 3):
        a, b = ImageFolder(inputs, channels), ImageFolder(targets, channels)
        index = {Path(n).with_suffix("").as_posix(): i for i, n in enumerate(b.names)}
        self.pairs = [
            (x, b.images[index[Path(n).with_suffix("").as_posix()]])
            for x, n in zip(a.images, a.names)
            if Path(n).with_suffix("").as_posix() in index
        ]
        if not self.pairs:
            raise UsageError(f"{inputs} and {targets}: no files with matching names")

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.pairs[index]


# --- deterministic batching ----------------------------------------------------------------------


class SeededBatches:
    """Batches of a map-style dataset in an order that depends only on (seed, step).

    The order of epoch ``e`` is that of ``DistributedSampler(shuffle=True, seed=seed)`` after
    ``set_epoch(e)``; step ``s`` takes the ``s``-th slice of it on every rank, so the union of the
    ranks' batches is exactly the global batch a single process would take. Because the position is
    computed from the step, a resumed run sees the very batches an uninterrupted one would.
    """

    def __init__(self, dataset: Any, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if batch_size % world:
            raise UsageError(f"train.batch_size {batch_size} must be divisible by the {world} processes")
        if len(dataset) < batch_size:
            raise UsageError(
                f"the dataset has {len(dataset)} items, fewer than train.batch_size {batch_size}"
            )
        from torch.utils.data.distributed import DistributedSampler

        self.dataset, self.batch_size, self.seed = dataset, batch_size, seed
        self.rank, self.world = rank, world
        self.sampler = DistributedSampler(
            dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
        self.per_epoch = max(1, len(dataset) // batch_size)
        self._epoch = -1
        self._order: list[int] = []

    def indices(self, step: int) -> list[tuple[int, int]]:
        """(dataset index, augmentation seed) pairs of this rank's share of global batch ``step``."""
        epoch, pos = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self.sampler.set_epoch(epoch)
            self._order = list(self.sampler)
            self._epoch = epoch
        share = self.batch_size // self.world
        out = []
        for k in range(share):
            global_pos = pos * self.batch_size + self.rank + self.world * k
            out.append((self._order[pos * share + k], (self.seed * 7919 + epoch) * 1_000_003 + global_pos))
        return out

    def batch(self, step: int) -> Any:
        items = []
        for index, sample_seed in self.indices(step):
            if hasattr(self.dataset, "get"):
                items.append(self.dataset.get(index, torch.Generator().manual_seed(sample_seed)))
            else:
                items.append(self.dataset[index])
        return collate(items)

    def __iter__(self) -> Iterator[Any]:  # pragma: no cover - convenience
        step = 0
        while True:
            yield self.batch(step)
            step += 1


def collate(items: list[Any]) -> Any:
    first = items[0]
    if isinstance(first, torch.Tensor):
        return torch.stack(items)
    if isinstance(first, (int, float)):
        return torch.tensor(items)
    if isinstance(first, tuple):
        return tuple(collate([it[i] for it in items]) for i in range(len(first)))
    if isinstance(first, dict):
        return {k: collate([it[k] for it in items]) for k in first}
    return items


def epoch_of(step: int, per_epoch: int) -> int:
    return math.floor(step / per_epoch)
