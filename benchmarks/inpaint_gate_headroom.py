"""How much a gate between the biharmonic and harmonic fills could gain, before training one.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/inpaint_gate_headroom.py DIR

On the photos of DIR (e.g. the inpainting validation folder ``scripts/train_bundled_restore.py``
writes, ``WORK/photos/val-inpaint``), with the evaluation's seeded 10-30 % holes, prints PSNR in the
hole of ``harmonic + α·(biharmonic − harmonic)`` for: α = 1 (biharmonic), 0 (harmonic), ½ (their
mean: an untrained blend network), one α per distance from the hole's edge fitted to the truth over
all photos, and one α per photo fitted to its truth. The fitted rows use the answers, so they are
upper bounds on what a gate that sees only distance, or only the whole photo, could learn. Why: a
learned gate is only worth training if these bounds leave room above the mean.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from genedit_restore._arch.coarse_fill import biharmonic_fill, harmonic_fill
from genedit_restore.evaluation import reference_images
from genedit_restore.masks import random_mask
from scipy.ndimage import distance_transform_edt

from genedit_core.sdk import psnr

DISTANCE_BINS = (0, 2, 4, 8, 12, 16, 24, 32, 48, 64)


def _fitted_alpha(pairs) -> float:
    """The least-squares α of ``y ≈ h + α (b − h)`` over ``(y − h, b − h)`` pairs, clipped to 0-1."""
    num = sum(float((r * d).sum()) for r, d in pairs)
    den = sum(float((d * d).sum()) for _, d in pairs)
    return float(np.clip(num / max(den, 1e-12), 0, 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", help="a folder of photos (or a builtin: set)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cases = []
    for i, (_, clean) in enumerate(reference_images(args.data)):
        h, w = clean.shape[-2:]
        hole = random_mask(h, w, np.random.default_rng([0, i]), (0.1, 0.3))  # the evaluation's holes
        mask = torch.from_numpy(hole)[None, None].float()
        damaged = clean[None] * (1 - mask)
        bih = biharmonic_fill(damaged, mask)[0].clamp(0, 1).numpy()
        harm = harmonic_fill(damaged, mask)[0].clamp(0, 1).numpy()
        bins = np.digitize(distance_transform_edt(hole), DISTANCE_BINS)
        cases.append((clean.numpy(), hole, bih, harm, bins))

    def score(alpha) -> float:
        def u8(t: np.ndarray) -> np.ndarray:
            return (np.clip(t, 0, 1) * 255).round()

        out = []
        for k, (y, hole, bih, harm, bins) in enumerate(cases):
            fill = harm + alpha(k, bins) * (bih - harm)
            out.append(psnr(u8(fill)[:, hole], u8(y)[:, hole]))
        return float(np.mean(out))

    by_bin = {}
    for j in range(len(DISTANCE_BINS) + 1):
        pairs = [
            ((y - hm)[:, hole & (b == j)], (bh - hm)[:, hole & (b == j)]) for y, hole, bh, hm, b in cases
        ]
        by_bin[j] = _fitted_alpha(pairs)
    per_photo = [_fitted_alpha([((y - hm)[:, hole], (bh - hm)[:, hole])]) for y, hole, bh, hm, _ in cases]
    rows = {
        "biharmonic (alpha 1)": score(lambda k, b: 1.0),
        "harmonic (alpha 0)": score(lambda k, b: 0.0),
        "mean (alpha 1/2)": score(lambda k, b: 0.5),
        "alpha per distance, fitted": score(lambda k, b: np.vectorize(by_bin.get)(b)),
        "alpha per photo, fitted": score(lambda k, b: per_photo[k]),
    }
    for name, value in rows.items():
        print(f"{name:<28} {value:7.3f} dB in the hole")
    print("alpha per distance bin (pixels from the edge): "
          + ", ".join(f">={lo}: {by_bin[j + 1]:.2f}" for j, lo in enumerate(DISTANCE_BINS)))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
