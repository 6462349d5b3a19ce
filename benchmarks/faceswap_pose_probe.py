"""Which feature of a face moves the swap's eyes and mouth (issue 16's pose target): a trained
run's A->B swap measured on hybrid identities.

    nice -n 10 .venv/bin/python benchmarks/faceswap_pose_probe.py RUN [--count 40]

RUN is a run ``benchmarks/faceswap_report.py --run RUN`` trained (two synthetic identities). Each
hybrid is identity A with one of B's traits (eye size, brows, skin, face shape), or B itself,
drawn at the same held-out poses as the report's (seed 300) and converted a2b the way the report
converts (known landmarks, convert's default colour match and blend); the eyes and mouth of the
output are located as the report locates them and compared with the hybrid's own. A trait whose
swap to B lands closer than A's does is one B's decoder misreads as pose. Printed: the mean shift
(x, y; + is right and down) of the left eye, the right eye and the mouth, and the mean errors, in %
of the inter-ocular distance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

import faceswap_report as report  # noqa: E402
from genedit_faceswap import synthetic  # noqa: E402
from genedit_faceswap.align import align  # noqa: E402
from genedit_faceswap.autoencoder import swap  # noqa: E402
from genedit_faceswap.convert import feather_mask  # noqa: E402

from genedit_core.sdk import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = load("faceswap", weights=str(args.run), device="cpu", dtype="fp32")
    size = int(model.hyperparameters["size"])
    mask = feather_mask(size, report.PADDING)
    a, b = synthetic.IDENTITIES["a"], synthetic.IDENTITIES["b"]
    hybrids = {
        "A": a,
        "A, B's eyes": {**a, "eye": b["eye"]},
        "A, B's brows": {**a, "brow": b["brow"]},
        "A, B's skin": {**a, "skin": b["skin"]},
        "A, B's face shape": {**a, "face": b["face"]},
        "B (B->B)": b,
    }
    print(f"A->B swaps of hybrids, run {args.run}, {args.count} faces each; % of inter-ocular distance")
    print(
        f"{'drawn as':18} {'left eye x,y':>13} {'right eye x,y':>14} {'mouth x,y':>12} {'eye err':>8} {'mouth err':>9}"
    )
    try:
        for name, traits in hybrids.items():
            synthetic.IDENTITIES["probe"] = traits
            shifts = []
            for img, points in report.scenes("probe", args.count, 300):
                iod = float((points[1] - points[0]).norm())
                crop, matrix = align(img, points, size, report.PADDING)
                out = report.swap_face_known(img, swap(model, crop, "a2b"), crop, mask, matrix)
                shifts.append(
                    ((report.locate(out, points, iod) - report.locate(img, points, iod)) / iod).numpy()
                )
            v = 100 * np.array(shifts)
            mean = v.mean(0)
            err = np.linalg.norm(v, axis=2).mean(0)
            cells = [f"{x:+.1f},{y:+.1f}" for x, y in mean]
            print(
                f"{name:18} {cells[0]:>13} {cells[1]:>14} {cells[2]:>12} {err[:2].mean():7.2f}% {err[2]:8.2f}%"
            )
    finally:
        synthetic.IDENTITIES.pop("probe", None)


if __name__ == "__main__":
    main()
