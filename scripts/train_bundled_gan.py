"""Train tiny BigGAN and StyleGAN2 on the native 8×8 scikit-learn digits, measure them, bundle them.

    .venv/bin/python scripts/train_bundled_gan.py biggan                 # train, measure, bundle
    .venv/bin/python scripts/train_bundled_gan.py stylegan2
    .venv/bin/python scripts/train_bundled_gan.py biggan --skip-train    # measure + bundle an existing run
    .venv/bin/python scripts/train_bundled_gan.py stylegan2 --no-bundle  # train and measure only

Why 8×8: scikit-learn's digits *are* 8×8; ``builtin:digits`` at 32×32 (what DCGAN trains on and
what the digit judge reads) is their bilinear upsampling. A generator that draws the 8×8 originals
and is shown through the same upsampling (``model.output_size=32``, applied by the sampler) produces
images of exactly the kind the judge and the real-vs-real floor see, at a sixteenth of the pixels,
which is what lets both models train in a few CPU-minutes on one thread.

Training is ``genedit train MODEL --data builtin:digits`` with the settings in RECIPES, one thread,
a fixed step count (a rerun reproduces the weights; the trainer's resume is bit-identical). Both use
DiffAugment (translation, cutout: ``loss.diffaug``) and an EMA of G, which is exported.

The exported generator is scored by scripts/eval_gan_digits.py's ``measure`` (IS, class balance, FID
and KID on the bundled digit classifier's features next to the real-vs-real held-out floor; for
BigGAN also the share of samples conditioned on class k that the classifier reads as k) and copied
to plugins/genedit-gan/genedit_gan/weights/ with its sha256, recipe, timings and scores in
manifest.json, where the plugin's cards pick it up as the default ``digits`` variant.
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
COMMON = [
    "model.size=8",
    "model.nc=1",
    "model.output_size=32",
    "loss.diffaug=translation,cutout",
    "train.sample_every=500",
    "train.ckpt_every=500",
    "train.log_every=50",
]
RECIPES: dict[str, dict] = {
    "biggan": {
        "sets": [
            "model.num_classes=10",
            "model.z_dim=64",
            "model.embed_dim=32",
            "model.channel_width=32",
            "model.d_width=64",
            "model.g_attention=0",
            "model.d_attention=1",
            "optim.g.lr=2e-4",
            "optim.d.lr=4e-4",
            "ema.g=0.995",
            "train.batch_size=64",
        ],
        "steps": 2000,
        "seed": 0,
        "what": "BigGAN 8×8 grey, class-conditional on the ten digits (shown at 32×32)",
    },
    "stylegan2": {
        "sets": [
            "model.style_dim=64",
            "model.n_mlp=2",
            "model.channel_base=512",
            "model.channel_max=64",
            "loss.r1=1",
            "loss.path_regularize=0",
            "optim.g.lr=5e-3",
            "optim.d.lr=5e-3",
            "ema.g=0.995",
            "train.batch_size=32",
            "train.schedule.type=linear",
            "train.schedule.decay_start=8000",
        ],
        "steps": 10000,
        "seed": 0,
        "what": "StyleGAN2 8×8 grey (shown at 32×32)",
    },
}
# BigGAN: the class-accuracy target of benchmarks/bench_gan_digits.py. StyleGAN2 has none.
TARGETS = {"biggan": {"class_acc_pct": 70.0}, "stylegan2": {}}


def train_sets(model: str, seed: int, steps: int, extra: list[str]) -> list[str]:
    return [*COMMON, *RECIPES[model]["sets"], f"train.steps={steps}", f"train.seed={seed}", *extra]


def bundle(model: str, run: Path, sets: list[str], report: dict, timing: dict, met: bool | None) -> Path:
    """Copy the run's exported generator into the package and describe it in manifest.json."""
    from genedit_core.weights import sha256_of

    dest = WEIGHTS / f"{model}-digits.safetensors"
    shutil.copyfile(run / "model.safetensors", dest)
    run_cfg = json.loads((run / "config.json").read_text())
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    old = manifest.get(model, {})
    if not timing and old.get("sha256") == sha256_of(dest):  # re-measured, not retrained: keep its timings
        timing = {k: old[k] for k in ("train_wall_minutes", "train_cpu_minutes") if k in old}
    steps = int(json.loads((run / "checkpoints" / "last.json").read_text())["step"])
    summary = report["summary"]
    entry = {
        "variant": "digits",
        "filename": dest.name,
        "sha256": sha256_of(dest),
        "licence": "Apache-2.0 (trained on scikit-learn digits, BSD-3-Clause)",
        "description": f"{RECIPES[model]['what']}, EMA generator, DiffAugment, {steps} steps on scikit-learn "
        f"digits on one CPU thread (scripts/train_bundled_gan.py); see docs/models/{model}.md.",
        "config": {k: run_cfg[k] for k in ("arch", "class_names", "dataset", "output_size") if k in run_cfg},
        "recipe": "OMP_NUM_THREADS=1 genedit train "
        + model
        + " --data builtin:digits "
        + " ".join(f"--set {s}" for s in sets),
        "steps": steps,
        **timing,
        "scores": {
            r["image"]: {k: r[k] for k in ("fid", "kid", "is", "min_class_pct")} for r in report["rows"]
        },
    }
    entry["nearest_training"] = {k: round(v, 3) for k, v in report["nearest_training"].items()}
    if "class_acc_pct" in summary:
        entry["class_accuracy"] = {
            "mean_pct": summary["class_acc_pct"],
            "worst_class_pct": summary["class_acc_min_pct"],
            "per_class_samples": 100,
        }
    if TARGETS[model]:
        entry["targets"] = {**{f"{k} >=": v for k, v in TARGETS[model].items()}, "met": bool(met)}
    manifest[model] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", choices=sorted(RECIPES))
    ap.add_argument("--run", type=Path, default=None, help="run folder (default runs/MODEL-digits)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--no-bundle", action="store_true", help="measure only")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--extra-set", action="append", default=[], help="more --set overrides (repeatable)")
    args = ap.parse_args()
    recipe = RECIPES[args.model]
    run = args.run or ROOT / "runs" / f"{args.model}-digits"
    seed = recipe["seed"] if args.seed is None else args.seed
    sets = train_sets(args.model, seed, args.steps or recipe["steps"], args.extra_set)
    cmd = train_command(args.model, run, sets)
    print("training: OMP_NUM_THREADS=1", " ".join(["genedit", *cmd[1:]]), flush=True)
    timing: dict = {}
    if not args.skip_train:
        wall, cpu = run_one_thread(cmd)
        timing = {"train_wall_minutes": round(wall, 1), "train_cpu_minutes": round(cpu, 1)}
        print(
            f"trained in {timing['train_wall_minutes']:.1f} min wall, {timing['train_cpu_minutes']:.1f} min CPU",
            flush=True,
        )

    sys.path.insert(0, str(ROOT / "scripts"))
    from eval_gan_digits import measure

    report = measure(args.model, str(run))
    met = None
    if TARGETS[args.model]:
        met = all(report["summary"].get(k, 0.0) >= v for k, v in TARGETS[args.model].items())
        goal = ", ".join(f"{k} >= {v}" for k, v in TARGETS[args.model].items())
        print(f"target ({goal}): {'met' if met else 'NOT met'}")
    if args.no_bundle:
        return 0
    dest = bundle(args.model, run, sets, report, timing, met)
    print(f"bundled {dest} ({dest.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
