"""Train and package the bundled DnCNN weights of genedit-restore, through the public CLI.

    nice -n 10 python scripts/train_bundled_restore.py [--work runs/bundled-restore] [--steps N]

Data: the ten scikit-image sample images of ``builtin:skimage-photos`` (public domain / CC0), with
synthetic Gaussian noise drawn in each step; the five photographs of
``builtin:skimage-photos:heldout`` are never trained on (they pick the best checkpoint and are the
benchmark's images). The network is a colour, blind DnCNN (σ drawn per patch from 0-55), smaller
than the paper's (24 features, 15 layers, not 64 and 20) so that it trains in CPU-minutes; the weights are stored
as fp16 safetensors in plugins/genedit-restore/genedit_restore/weights/ and described, with the
recipe and the time it took, in weights/manifest.json. ``benchmarks/restore_report.py`` measures them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins" / "genedit-restore" / "genedit_restore" / "weights"
FILENAME = "dncnn-color-blind-small.safetensors"

RECIPE = [
    "model.channels=3",
    "model.features=24",
    "model.depth=15",
    "data.patch=32",
    "data.sigma=null",
    "data.sigma_range=[0,55]",
    "train.batch_size=8",
    "train.lr=1e-3",
    "train.channels_last=true",
    "train.eval_every=200",
    "train.ckpt_every=200",
    "train.log_every=20",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="runs/bundled-restore")
    ap.add_argument("--steps", type=int, default=500)
    args = ap.parse_args()
    run = Path(args.work) / "dncnn"
    argv = [sys.executable, "-m", "genedit_cli", "train", "dncnn", "--data", "builtin:skimage-photos",
            "--out", str(run), "--device", "cpu", "-q"]  # fmt: skip
    for s in [*RECIPE, f"train.steps={args.steps}"]:
        argv += ["--set", s]
    started = time.time()
    subprocess.run(argv, check=True)
    wall = time.time() - started
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = cpu.ru_utime + cpu.ru_stime

    from safetensors.torch import load_file, save_file

    state = {k: v.half() for k, v in load_file(run / "model.safetensors").items()}
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    dest = WEIGHTS / FILENAME
    save_file(state, dest)
    config = json.loads((run / "config.json").read_text())
    config.pop("genedit_task", None)
    evals = [
        json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"eval"' in line
    ]
    best = max(evals, key=lambda r: r["eval"]["psnr"]) if evals else None
    entry = {
        "variant": "photos-blind",
        "filename": FILENAME,
        "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
        "config": config,
        "licence": "Apache-2.0",
        "description": "Colour blind DnCNN (15 layers, 24 features) trained by genedit's trainer on the "
        "bundled photos with Gaussian noise σ 0-55; see docs/models/dncnn.md.",
        "recipe": {"data": "builtin:skimage-photos", "steps": args.steps, "set": RECIPE},
        "train_wall_s": round(wall, 1),
        "train_cpu_s": round(cpu_s, 1),
        "best_eval": best,
    }
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["dncnn"] = [entry]
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    print(
        f"wrote {dest} ({dest.stat().st_size / 1024:.0f} KiB) in {wall / 60:.1f} min ({cpu_s / 60:.1f} CPU-min); best eval {best}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
