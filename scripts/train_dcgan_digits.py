"""Train DCGAN on scikit-learn digits, measure it, and ship it as the bundled ``dcgan`` variant.

    .venv/bin/python scripts/train_dcgan_digits.py                 # train (≤ 14.5 min), measure, bundle
    .venv/bin/python scripts/train_dcgan_digits.py --skip-train    # measure + bundle an existing run

Training is ``genedit train dcgan --data builtin:digits`` with the settings in TRAIN_SETS, run with one
thread (the machine's two cores are shared; one thread avoids OpenMP contention and is faster here).
The run's exported weights are then scored by scripts/eval_gan_digits.py's maths (IS, class balance,
FID and KID against the real-vs-real held-out floor) and, if they pass the targets, copied to
plugins/genedit-gan/genedit_gan/weights/ with their sha256, recipe and scores in manifest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins/genedit-gan/genedit_gan/weights"
TRAIN_SETS = [
    "model.size=16",
    "model.nc=1",
    "model.ngf=64",
    "model.ndf=64",
    "loss.real_label=0.9",
    "ema.g=0.999",
    "train.batch_size=64",
    "train.steps=8000",
    "train.max_minutes=14.5",
    "train.channels_last=true",
    "train.sample_every=1000",
    "train.ckpt_every=1000",
    "train.log_every=50",
    "train.seed=0",
]
TARGETS = {"is": 8.0, "min_class_pct": 5.0}


def train_command(run: Path) -> list[str]:
    cmd = [
        str(ROOT / ".venv/bin/genedit"),
        "train",
        "dcgan",
        "--data",
        "builtin:digits",
        "--out",
        str(run),
        "-q",
    ]
    for s in TRAIN_SETS:
        cmd += ["--set", s]
    return cmd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs/dcgan-digits")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--no-bundle", action="store_true", help="measure only")
    args = ap.parse_args()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = train_command(args.run)
    print("training: OMP_NUM_THREADS=1", " ".join(["genedit", *cmd[1:]]), flush=True)
    if not args.skip_train:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        print(f"trained in {(time.perf_counter() - t0) / 60:.1f} min", flush=True)
    history = [
        json.loads(line) for line in (args.run / "metrics.jsonl").read_text().splitlines() if line.strip()
    ]
    steps = max(h["step"] for h in history if "step" in h)

    sys.path.insert(0, str(ROOT / "scripts"))
    from eval_gan_digits import measure

    report = measure("dcgan", str(args.run))
    gen = report["summary"]
    ok = gen["is"] >= TARGETS["is"] and gen["min_class_pct"] >= TARGETS["min_class_pct"]
    print(f"targets (IS >= 8.0, every class >= 5%): {'met' if ok else 'NOT met'}")
    if args.no_bundle or not ok:
        return 0 if ok else 1
    from genedit_core.weights import sha256_of

    dest = WEIGHTS / "dcgan-digits.safetensors"
    shutil.copyfile(args.run / "model.safetensors", dest)
    run_cfg = json.loads((args.run / "config.json").read_text())
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["dcgan"] = {
        "variant": "digits",
        "filename": dest.name,
        "sha256": sha256_of(dest),
        "licence": "Apache-2.0 (trained on scikit-learn digits, BSD-3-Clause)",
        "description": "DCGAN 16×16 grey, trained ≤ 15 min on one CPU thread on scikit-learn digits "
        "(scripts/train_dcgan_digits.py); see docs/models/dcgan.md.",
        "config": {k: run_cfg[k] for k in ("arch", "class_names", "dataset") if k in run_cfg},
        "recipe": "OMP_NUM_THREADS=1 genedit train dcgan --data builtin:digits "
        + " ".join(f"--set {s}" for s in TRAIN_SETS),
        "steps": steps,
        "scores": {
            r["image"]: {k: r[k] for k in ("fid", "kid", "is", "min_class_pct")} for r in report["rows"]
        },
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"bundled {dest} ({steps} steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
