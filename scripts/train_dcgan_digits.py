"""Train DCGAN on scikit-learn digits, measure it, and ship it as the bundled ``dcgan`` variant.

    .venv/bin/python scripts/train_dcgan_digits.py                  # train, measure, bundle
    .venv/bin/python scripts/train_dcgan_digits.py --skip-train     # measure + bundle an existing run
    .venv/bin/python scripts/train_dcgan_digits.py --skip-train --checkpoint 4000 --no-bundle

Training is ``genedit train dcgan --data builtin:digits`` with the settings in TRAIN_SETS, on one
thread (the machine's two cores are shared; one thread avoids OpenMP contention). The budget is
15 minutes of CPU time for the training process, measured with getrusage and printed; the run
stops at a fixed step count (train.steps) so a rerun reproduces the same weights: the trainer's
resume is bit-identical, so a run interrupted and continued with ``genedit train --resume`` ends
with the same weights as an uninterrupted one.

Learning rate: constant 2e-4, then linear decay to 0 over the last 2,000 steps (from step 6,000).
DiffAugment (translation, cutout) on everything D sees: the set has only 1,500 digits.

The exported (EMA) generator is then scored like scripts/eval_gan_digits.py does (IS, class
balance, FID and KID next to the real-vs-real held-out floor) and, if it meets the targets (IS ≥ 8,
every class ≥ 5% of 1,000 samples), copied to plugins/genedit-gan/genedit_gan/weights/ with its
sha256, recipe and scores in manifest.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from _common import run_one_thread, train_command

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins/genedit-gan/genedit_gan/weights"
STEPS = 8000
DECAY_START = 6000
SEED = 1
TRAIN_SETS = [
    "model.size=32",
    "model.nc=1",
    "model.ngf=32",
    "model.ndf=32",
    "loss.real_label=0.9",
    "loss.diffaug=translation,cutout",
    "ema.g=0.995",
    "train.batch_size=64",
    "train.schedule.type=linear",
    "train.channels_last=true",
    "train.sample_every=500",
    "train.ckpt_every=500",
    "train.log_every=50",
]
TARGETS = {"is": 8.0, "min_class_pct": 5.0}
CPU_BUDGET_MIN = 15.0


def train_sets(seed: int, steps: int, decay_start: int) -> list[str]:
    return [
        *TRAIN_SETS,
        f"train.steps={steps}",
        f"train.schedule.decay_start={decay_start}",
        f"train.seed={seed}",
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs/dcgan-digits")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument(
        "--checkpoint", type=int, default=None, help="score this checkpoint step instead of the run"
    )
    ap.add_argument("--no-bundle", action="store_true", help="measure only")
    ap.add_argument(
        "--bundle-anyway", action="store_true", help="bundle even if a target is missed (recorded)"
    )
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--decay-start", type=int, default=DECAY_START)
    ap.add_argument("--extra-set", action="append", default=[], help="more --set overrides (repeatable)")
    args = ap.parse_args()
    sets = train_sets(args.seed, args.steps, args.decay_start) + args.extra_set
    cmd = train_command("dcgan", args.run, sets)
    print("training: OMP_NUM_THREADS=1", " ".join(["genedit", *cmd[1:]]), flush=True)
    if not args.skip_train:
        wall, cpu = run_one_thread(cmd)
        print(f"trained in {wall:.1f} min wall, {cpu:.1f} min CPU", flush=True)
        if cpu > CPU_BUDGET_MIN:
            print(f"warning: over the {CPU_BUDGET_MIN:.0f}-minute CPU budget")
    source = args.run if args.checkpoint is None else args.run / "checkpoints" / f"step-{args.checkpoint:06d}"
    steps = args.checkpoint
    if steps is None:
        history = [
            json.loads(x) for x in (args.run / "metrics.jsonl").read_text().splitlines() if '"d_loss"' in x
        ]
        steps = max(h["step"] for h in history)

    sys.path.insert(0, str(ROOT / "scripts"))
    from eval_gan_digits import measure

    report = measure("dcgan", str(source))
    gen = report["summary"]
    ok = gen["is"] >= TARGETS["is"] and gen["min_class_pct"] >= TARGETS["min_class_pct"]
    print(f"targets (IS >= 8.0, every class >= 5%): {'met' if ok else 'NOT met'}")
    if args.no_bundle or not (ok or args.bundle_anyway):
        return 0 if ok else 1
    from genedit_core.weights import sha256_of

    dest = WEIGHTS / "dcgan-digits.safetensors"
    shutil.copyfile(source / "model.safetensors", dest)
    run_cfg = json.loads((source / "config.json").read_text())
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    recipe_sets = [s if not s.startswith("train.steps=") else f"train.steps={steps}" for s in sets]
    manifest["dcgan"] = {
        "variant": "digits",
        "filename": dest.name,
        "sha256": sha256_of(dest),
        "licence": "Apache-2.0 (trained on scikit-learn digits, BSD-3-Clause)",
        "description": f"DCGAN 32×32 grey (EMA generator, DiffAugment), {steps} steps on scikit-learn digits on one CPU thread "
        "(scripts/train_dcgan_digits.py); see docs/models/dcgan.md.",
        "config": {k: run_cfg[k] for k in ("arch", "class_names", "dataset") if k in run_cfg},
        "recipe": "OMP_NUM_THREADS=1 genedit train dcgan --data builtin:digits "
        + " ".join(f"--set {s}" for s in recipe_sets),
        "steps": steps,
        "targets": {"is >=": TARGETS["is"], "min_class_pct >=": TARGETS["min_class_pct"], "met": ok},
        "scores": {
            r["image"]: {k: r[k] for k in ("fid", "kid", "is", "min_class_pct")} for r in report["rows"]
        },
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"bundled {dest} ({steps} steps)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
