"""Denoising evaluation in the convention of the DnCNN paper's tables.

Each reference photo gets seeded Gaussian noise of σ/255 (added to the float image, not clipped,
as in the paper's test code); the output is clipped and rounded to 8 bits, and PSNR/SSIM are taken
over all colour channels of the whole image against the 8-bit reference. The noise of image ``i``
at σ comes from a generator seeded with ``(seed, i, σ)``, so every model sees the same noisy inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genedit_core.sdk import psnr, ssim
from genedit_core.sdk import reference_images as _reference_images

SIGMAS = (15.0, 25.0, 50.0)


def reference_images(data: str | Path, max_side: int | None = None) -> list[tuple[str, torch.Tensor]]:
    """(name, 3×H×W tensor in 0-1, 8-bit values) from a folder or ``builtin:`` set, centre-cropped:
    noise is added to what an image file holds."""
    return _reference_images(data, max_side, eight_bit=True)


def add_noise(clean: torch.Tensor, sigma: float, seed: int, index: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed * 1_000_003 + index * 1009 + round(sigma * 10))
    return clean + torch.randn(clean.shape, generator=gen, dtype=torch.float64).float() * (sigma / 255.0)


def _u8(t: torch.Tensor) -> np.ndarray:
    return (t.detach().float().cpu().clamp(0, 1) * 255).round().numpy().astype(np.float64)


def scores(out: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """(PSNR, SSIM) of 3×H×W ``out`` against ``clean``, 8-bit, over every channel."""
    a, b = _u8(out), _u8(clean)
    return psnr(a, b), float(np.mean([ssim(a[c], b[c]) for c in range(a.shape[0])]))


def evaluate_denoiser(
    denoise: Callable[[torch.Tensor, float], torch.Tensor],
    references: Sequence[tuple[str, torch.Tensor]],
    sigmas: Sequence[float] = SIGMAS,
    seed: int = 0,
) -> dict[str, Any]:
    """``denoise(noisy 1×3×H×W, σ)`` over every reference and σ; the report dict of the hook."""
    rows = []
    for i, (name, clean) in enumerate(references):
        row: dict[str, Any] = {"image": name}
        for sigma in sigmas:
            noisy = add_noise(clean, sigma, seed, i)
            with torch.inference_mode():
                out = denoise(noisy[None], sigma)[0]
            p, s = scores(out, clean)
            row[f"psnr_{sigma:g}"], row[f"ssim_{sigma:g}"] = p, s
        rows.append(row)
    keys = [k for k in rows[0] if k != "image"]
    return {
        "columns": ["image", *keys],
        "rows": rows,
        "summary": {k: float(np.mean([r[k] for r in rows])) for k in keys},
        "convention": "RGB, 8-bit rounded output, whole image; noise N(0, σ/255) added unclipped, seeded",
    }


def evaluate_inpainter(
    inpaint: Callable[[torch.Tensor, np.ndarray], torch.Tensor],
    references: Sequence[tuple[str, torch.Tensor]],
    coverage: tuple[float, float] = (0.1, 0.3),
    seed: int = 0,
) -> dict[str, Any]:
    """``inpaint(damaged 1×3×H×W, hole H×W)`` on seeded masks; PSNR/SSIM in the hole and overall.

    The hole's pixels are set to mid-grey before the model sees them, so nothing of the original
    leaks through. PSNR in the hole is over the hole's pixels only; SSIM over the whole image.
    """
    from .masks import random_mask

    rows = []
    for i, (name, clean) in enumerate(references):
        h, w = clean.shape[-2:]
        hole = random_mask(h, w, np.random.default_rng([seed, i]), coverage)
        damaged = clean.clone()
        damaged[:, torch.from_numpy(hole)] = 0.5
        with torch.inference_mode():
            out = inpaint(damaged[None], hole)[0]
        a, b = _u8(out), _u8(clean)
        p_all, s_all = scores(out, clean)
        rows.append(
            {
                "image": name,
                "hole_pct": 100.0 * float(hole.mean()),
                "psnr_hole": psnr(a[:, hole], b[:, hole]),
                "psnr": p_all,
                "ssim": s_all,
            }
        )
    keys = ["hole_pct", "psnr_hole", "psnr", "ssim"]
    return {
        "columns": ["image", *keys],
        "rows": rows,
        "summary": {k: float(np.mean([r[k] for r in rows])) for k in keys},
        "convention": f"seeded strokes and boxes covering {coverage[0]:.0%}-{coverage[1]:.0%}; RGB, 8-bit",
    }


def parse_sigmas(spec: str) -> tuple[float, ...]:
    """``"15,25,50"`` -> (15.0, 25.0, 50.0); each within 0-255 (a one-line UsageError otherwise)."""
    from genedit_core.sdk import UsageError

    try:
        sigmas = tuple(float(part) for part in spec.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--sigma: '{spec}' is not a comma-separated list of numbers, e.g. 15,25,50"
        ) from None
    if not sigmas or any(not 0 < s <= 255 for s in sigmas):
        raise UsageError(f"--sigma: '{spec}': give noise levels above 0 and at most 255, e.g. 15,25,50")
    return sigmas


def parse_coverage(spec: str) -> tuple[float, float]:
    """``"10-30"`` (percent) -> (0.1, 0.3); 1-90 %, low below high (a one-line UsageError otherwise)."""
    from genedit_core.sdk import UsageError

    try:
        low, high = (float(part) for part in spec.split("-"))
    except ValueError:
        raise UsageError(f"--coverage: '{spec}' is not LOW-HIGH in percent, e.g. 10-30") from None
    if not 1 <= low < high <= 90:
        raise UsageError(f"--coverage: '{spec}': give 1 <= LOW < HIGH <= 90 percent, e.g. 10-30")
    return low / 100, high / 100


def evaluate(request) -> dict[str, Any] | None:
    """The ``evaluate`` hook: denoising at ``--sigma`` (15, 25, 50), or inpainting on seeded masks
    covering ``--coverage`` (10-30 %) of each image, on ``--data``."""
    model = request.model
    if request.task == "inpaint":
        from .tasks import fill

        coverage = parse_coverage(request.params.get("coverage", "10-30"))
        refs = reference_images(request.data)
        return evaluate_inpainter(lambda x, hole: fill(model, x, hole), refs, coverage)
    if request.task != "denoise":
        return None
    from .classical import ClassicalDenoiser

    sigmas = parse_sigmas(request.params.get("sigma", "15,25,50"))
    refs = reference_images(request.data)
    if isinstance(model.module, ClassicalDenoiser):
        return evaluate_denoiser(lambda x, s: model.module(x, s), refs, sigmas)
    from genedit_core.sdk import run_with_oom_retry

    return evaluate_denoiser(lambda x, s: run_with_oom_retry(model, x, "auto"), refs, sigmas)
