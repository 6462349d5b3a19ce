"""Python equivalents of the CLI tasks, on a model from ``genedit_core.load``.

    import genedit_core
    from genedit_vae import api

    vae = genedit_core.load("vae", weights="digits")
    grid = api.generate(vae, seeds=range(16))             # N×C×H×W tensor in 0–1
    rec = api.reconstruct(vae, Image.open("digit.png"))   # PIL in, PIL out

Images may be PIL images or float tensors (C×H×W or 1×C×H×W in 0–1); results come back in the
same kind: PIL in gives PIL out, tensors give 1×C×H×W tensors.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from .ops import (
    interpolate as _interpolate,
)
from .ops import (
    model_sketch,
    prepare,
    sample,
    sketch_to_images,
    user_sketch,
)
from .ops import (
    reconstruct as _reconstruct,
)
from .ops import (
    traverse as _traverse,
)


def _to_tensor(image: Any) -> tuple[torch.Tensor, bool]:
    if isinstance(image, torch.Tensor):
        x = image.float()
        return (x[None] if x.ndim == 3 else x), False
    arr = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.transpose(2, 0, 1).copy())[None], True


def _out(x: torch.Tensor, pil: bool) -> Any:
    x = x.detach().float().cpu().clamp(0, 1)
    if not pil:
        return x
    from PIL import Image

    arr = (x[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    return Image.fromarray(arr[..., 0] if arr.shape[-1] == 1 else arr)


def generate(model, seeds: Iterable[int], truncation: float | None = None) -> torch.Tensor:
    """One prior sample per seed (z ~ N(0, I) from ``torch.Generator().manual_seed(seed)``)."""
    return sample(model.module, list(seeds), truncation).cpu()


def reconstruct(model, image: Any) -> Any:
    x, pil = _to_tensor(image)
    return _out(_reconstruct(model.module, prepare(model.module, x)), pil)


def interpolate(model, a: Any, b: Any, steps: int = 8) -> list[Any]:
    xa, pil = _to_tensor(a)
    xb, _ = _to_tensor(b)
    frames = _interpolate(model.module, prepare(model.module, xa), prepare(model.module, xb), steps)
    return [_out(f, pil) for f in frames]


def traverse(
    model, image: Any, dims: Iterable[int] | None = None, radius: float = 3.0, steps: int = 7
) -> Any:
    x, pil = _to_tensor(image)
    dims = list(range(model.module.config.latent_dim)) if dims is None else list(dims)
    return _out(_traverse(model.module, prepare(model.module, x), dims, radius, steps), pil)


def sketch(model, photo: Any) -> Any:
    """The sketch an SVAE would be given for ``photo`` (its own extractor, at its resolution)."""
    x, pil = _to_tensor(photo)
    return _out(model_sketch(model.module, x, model.hyperparameters.get("sketch_method", "xdog")), pil)


def sketch2image(model, drawing: Any, samples: int = 1, seed: int = 0, mean: bool = False) -> list[Any]:
    """``samples`` images for one sketch (dark lines on white); seed ``seed + i`` for the i-th."""
    x, pil = _to_tensor(drawing)
    s = user_sketch(model.module, x)
    out = sketch_to_images(model.module, s, list(range(seed, seed + samples)), use_mean=mean)
    return [_out(out[i : i + 1], pil) for i in range(samples)]
