"""A synthetic unpaired domain pair whose hidden ground truth is known: photos and toned photos.

Domain A is crops of photographs; domain B is *other* crops of the same photographs under
:func:`tone`, a fixed warm channel mix with lifted blacks and a darker tone curve, so no crop is
ever seen in both domains. Because the mapping A→B is known, a translator trained on the pair can
be scored against it: PSNR of G(x) against tone(x) on held-out photographs, next to that of the
identity mapping (x against tone(x)), and the cycle error of G_BA(G_AB(x)) against x. Inverting
colours (the failure that the identity loss prevents) or collapsing to one output shows up in both.

The bundled ``tone`` variant (``scripts/train_bundled_cyclegan.py``) is trained on this pair and
``benchmarks/cyclegan_report.py`` measures it; the plugin's tests train a tiny one.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

# Warm channel mix (rows: output R, G, B), an offset that lifts the blacks, then a gamma that
# darkens the mid-tones: invertible on its range, so B→A exists too.
MIX = torch.tensor([[0.70, 0.30, 0.00], [0.10, 0.75, 0.05], [0.05, 0.20, 0.50]])
OFFSET = torch.tensor([0.08, 0.05, 0.02])
GAMMA = 1.35


def tone(x: torch.Tensor) -> torch.Tensor:
    """The hidden A→B mapping on N×3×H×W (or 3×H×W) images in 0–1."""
    y = torch.einsum("oc,...chw->...ohw", MIX.to(x), x) + OFFSET.to(x).view(3, 1, 1)
    return y.clamp(0, 1) ** GAMMA


# Every photograph of domain A is first brought to one exposure: per channel, this mean and spread.
LEVEL_MEAN = 0.45
LEVEL_STD = 0.2


def level(img: torch.Tensor) -> torch.Tensor:
    """``img`` (3×H×W in 0–1) with each channel moved to mean :data:`LEVEL_MEAN` and standard
    deviation :data:`LEVEL_STD`, clipped to 0–1.

    Why: the reference generator puts instance norm right after its first convolution, which makes
    it blind to a global gain and a per-channel offset of its input (G(αx + c) = G(x)); it cannot
    carry an image's own exposure through and must guess it from content. On photographs as varied
    as a star field and a brick wall it guesses badly, so both translations and the identity itself
    come out worse than doing nothing. Photographs brought to one exposure remove that guess and
    leave the translation the pair is meant to measure.
    """
    mean = img.mean(dim=(-2, -1), keepdim=True)
    std = img.std(dim=(-2, -1), keepdim=True).clamp_min(1e-3)
    return ((img - mean) / std * LEVEL_STD + LEVEL_MEAN).clamp(0, 1)


def photos(split: str = "train", max_side: int = 256) -> list[torch.Tensor]:
    """The bundled scikit-image photographs (``builtin:skimage-photos[:heldout]``) as 3×H×W in 0–1,
    area-downscaled so the longer side is at most ``max_side`` (crops then hold whole objects), and
    brought to one exposure by :func:`level`."""
    from genedit_core.sdk import resolve_data

    spec = "builtin:skimage-photos" + (":heldout" if split == "heldout" else "")
    out = []
    data = resolve_data(spec)
    for i in range(len(data)):
        img = data[i].float()
        h, w = img.shape[-2:]
        k = max_side / max(h, w)
        if k < 1:
            size = (max(1, round(h * k)), max(1, round(w * k)))
            img = F.interpolate(img[None], size=size, mode="area")[0]
        out.append(level(img.clamp(0, 1)))
    return out


def crops(images: list[torch.Tensor], n: int, size: int, seed: int) -> list[torch.Tensor]:
    """``n`` random ``size``² crops, round robin over ``images`` (each at least ``size`` a side)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        img = images[i % len(images)]
        h, w = img.shape[-2:]
        top = int(torch.randint(h - size + 1, (1,), generator=g))
        left = int(torch.randint(w - size + 1, (1,), generator=g))
        out.append(img[:, top : top + size, left : left + size])
    return out


def write_pair(
    folder: Path, n: int = 240, size: int = 64, max_side: int = 256, seed: int = 0
) -> tuple[Path, Path]:
    """Write FOLDER/A (photo crops) and FOLDER/B (toned crops) as PNGs; ``n`` crops in all, shuffled
    and split in halves, so that no crop appears in both domains. Returns (A, B)."""
    import numpy as np
    from PIL import Image

    pool = crops(photos("train", max_side), n, size, seed)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1)).tolist()
    a, b = folder / "A", folder / "B"
    for k, i in enumerate(order):
        img = pool[i] if k < n // 2 else tone(pool[i])
        dest = a if k < n // 2 else b
        dest.mkdir(parents=True, exist_ok=True)
        pixels = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(dest / f"{k:04d}.png")
    return a, b


def psnr(x: torch.Tensor, y: torch.Tensor) -> float:
    """PSNR in dB of 0–1 images, over all channels (8-bit rounding first, as written files are)."""
    x, y = (x * 255).round() / 255, (y * 255).round() / 255
    mse = float(((x - y) ** 2).mean())
    return 99.0 if mse == 0 else float(10 * torch.log10(torch.tensor(1.0 / mse)))
