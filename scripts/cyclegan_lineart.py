"""CycleGAN on a real unpaired pair: photographs against line drawings, with a picture grid.

    .venv/bin/python scripts/cyclegan_lineart.py            # make the pair, train, measure, draw the grid

Domain A is 120 random 64² crops of the ten training photographs of builtin:skimage-photos
(levelled to one exposure, as in the tone pair; only crops whose drawing has some ink); domain B is
XDoG line drawings (genedit-colorize's extractor, the way PaintsChainer made its sketches) of 120
*other* crops, so no photograph is ever seen next to its own drawing. Training is the tone pair's
recipe (scripts/train_bundled_cyclegan.py) through ``genedit train cyclegan``, without the identity
term (a photograph and a drawing are different modalities). Photo → drawing has a ground truth, XDoG of the photograph, so
benchmarks/cyclegan_report.py scores it on the five held-out photographs next to the identity;
drawing → photo has none (colour and texture must be invented) and is shown, not scored. The grid
(photo | A→B | XDoG of the photo | back to A) goes to docs/models/img/cyclegan-lineart.jpg.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import sys
from pathlib import Path

import torch
from _common import run_one_thread, train_command
from train_bundled_cyclegan import TRAIN_SETS

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "docs/models/img/cyclegan-lineart.jpg"


def drawing(x: torch.Tensor) -> torch.Tensor:
    """The XDoG line drawing of N×3×H×W (or 3×H×W) photographs, as a 3-channel image."""
    from genedit_core.sdk import xdog

    batch = x if x.dim() == 4 else x[None]
    out = xdog(batch).expand(-1, 3, -1, -1)
    return out if x.dim() == 4 else out[0]


#: A crop is kept only if its drawing has at least this share of ink: blank paper is a good enough
#: fake of a sparse drawing for the discriminator, so without it the generator learns to hand back
#: white pages (and hides the photograph in them for the cycle loss).
MIN_INK = 0.08


def write_pair(folder: Path, n: int = 240, size: int = 64, seed: int = 0) -> tuple[Path, Path]:
    """FOLDER/A photo crops, FOLDER/B drawings of other crops (the tone pair's split), from crops
    whose drawing has at least :data:`MIN_INK` ink."""
    import numpy as np
    from genedit_cyclegan.tone import crops, photos
    from PIL import Image

    candidates = crops(photos("train"), 6 * n, size, seed)
    pool = [c for c in candidates if float((drawing(c) < 0.5).float().mean()) >= MIN_INK][:n]
    if len(pool) < n:
        raise SystemExit(f"only {len(pool)} of {6 * n} crops have {MIN_INK:.0%} ink; lower MIN_INK")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 1)).tolist()
    a, b = folder / "A", folder / "B"
    for k, i in enumerate(order):
        img = pool[i] if k < n // 2 else drawing(pool[i])
        dest = a if k < n // 2 else b
        dest.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).save(
            dest / f"{k:04d}.png"
        )
    return a, b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs/cyclegan-lineart")
    ap.add_argument("--data", type=Path, default=ROOT / "runs/cyclegan-lineart-data")
    ap.add_argument("--steps", type=int, default=2400)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    if not args.skip_train:
        if args.data.exists():
            shutil.rmtree(args.data)
        a, b = write_pair(args.data)
        # no identity term: a photo and a drawing are different modalities (junyanz sets it to 0 there too)
        sets = [*TRAIN_SETS, "loss.identity=0", f"train.steps={args.steps}", f"data.b={b}"]
        wall, cpu = run_one_thread(
            ["nice", "-n", "10", *train_command("cyclegan", args.run, sets, data=str(a))]
        )
        print(f"trained {args.steps} steps in {wall:.1f} wall-min, {cpu:.1f} CPU-min")
    spec = importlib.util.spec_from_file_location("cyclegan_report", ROOT / "benchmarks/cyclegan_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    png = args.run / "lineart-grid.png"
    result = report.measure(str(args.run), str(png), truth=drawing)
    from PIL import Image

    Image.open(png).convert("RGB").save(GRID, quality=85)
    cols = ["a2b", "cycle", "corr"]
    print("A→B: photo → drawing, scored against XDoG of the photo; cycle: photo → drawing → photo")
    print(f"{'image':<10}" + "".join(f"{c:>10}" for c in cols))
    for r in [*result["rows"], {"image": "mean", **result["mean"]}]:
        print(f"{r['image']:<10}" + "".join(f"{r[c]:>10.2f}" for c in cols))
    print(f"spread of the five A→B outputs over that of their targets: {result['spread']:.2f}")
    print(f"grid: {GRID.relative_to(ROOT)}")
    print(json.dumps({"mean": result["mean"], "spread": result["spread"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
