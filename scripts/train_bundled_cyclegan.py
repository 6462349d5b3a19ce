"""Train CycleGAN on the synthetic tone pair, measure it, and ship it as the bundled ``tone`` variant.

    .venv/bin/python scripts/train_bundled_cyclegan.py                 # make the pair, train, measure, bundle
    .venv/bin/python scripts/train_bundled_cyclegan.py --skip-train    # measure + bundle an existing run

The pair (genedit_cyclegan.tone): 240 random 64² crops of the ten training photographs of
builtin:skimage-photos (area-downscaled to 256 a side, each brought to one exposure by
tone.level: the generator cannot see a global gain or offset), shuffled and split in halves; A keeps its
crops as they are, B gets the hidden tone mapping, so no crop is in both domains. Training is
``genedit train cyclegan --data A --set data.b=B`` with the recipe's losses and optimiser (LSGAN,
cycle λ 10, identity 0.5, pool 50, Adam β1 0.5, linear decay over the second half) on a small
generator (8 features, 6 blocks) and PatchGAN (16 features), 48² crops, batch 4, one thread under
nice. One departure: the learning rate is 5e-4, not 2e-4, because a run of minutes, not days, has
to get there (at 2e-4, 600 steps were still 5.8 dB worse than the identity mapping). A
fixed step count makes a rerun reproduce the weights. benchmarks/cyclegan_report.py then scores the
export on the five held-out photographs, and if it beats the identity mapping in both directions
with no inverted channel and no collapse, the weights go to
plugins/genedit-cyclegan/genedit_cyclegan/weights/ with their sha256, recipe and scores in
manifest.json.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path

from _common import run_one_thread, train_command

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "plugins/genedit-cyclegan/genedit_cyclegan/weights"
FILENAME = "cyclegan-tone.safetensors"
STEPS = 2400
TRAIN_SETS = [
    "model.ngf=8",
    "model.ndf=16",
    "model.n_blocks=6",
    "data.crop=48",
    "train.lr=5e-4",
    "data.load_size=0",
    "train.batch_size=4",
    "train.seed=0",
    "train.log_every=50",
    "train.sample_every=400",
    "train.ckpt_every=400",
]


def measure(run: Path) -> dict:
    spec = importlib.util.spec_from_file_location("cyclegan_report", ROOT / "benchmarks/cyclegan_report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    return report.measure(str(run))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, default=ROOT / "runs/cyclegan-tone")
    ap.add_argument("--data", type=Path, default=ROOT / "runs/cyclegan-tone-data")
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--no-bundle", action="store_true")
    args = ap.parse_args()
    cpu = None
    sets = [*TRAIN_SETS, f"train.steps={args.steps}"]
    if not args.skip_train:
        from genedit_cyclegan.tone import write_pair

        if args.data.exists():
            shutil.rmtree(args.data)
        a, b = write_pair(args.data)
        cmd = ["nice", "-n", "10", *train_command("cyclegan", args.run, [f"data.b={b}", *sets], data=str(a))]
        wall, cpu = run_one_thread(cmd)
        print(f"trained {args.steps} steps in {wall:.1f} wall-min, {cpu:.1f} CPU-min")
    report = measure(args.run)
    m = report["mean"]
    print(json.dumps({"mean": m, "spread": report["spread"], "min_corr": report["min_corr"]}, indent=2))
    ok = m["a2b_gain"] > 0 and m["b2a_gain"] > 0 and report["min_corr"] > 0 and report["spread"] >= 0.5
    if not ok:
        print("not bundled: no better than the identity, an inverted channel, or collapse")
        return 1
    if args.no_bundle:
        return 0
    WEIGHTS.mkdir(exist_ok=True)
    dest = WEIGHTS / FILENAME
    shutil.copyfile(args.run / "model.safetensors", dest)
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    previous = manifest.get("tone", {})
    manifest["tone"] = {
        "filename": FILENAME,
        "sha256": hashlib.sha256(dest.read_bytes()).hexdigest(),
        "licence": "Apache-2.0 (trained by genedit on public-domain/CC0 scikit-image photographs)",
        "description": "Synthetic pair: photographs (A) and the same photographs under a fixed warm "
        "tone mapping (B), trained unpaired on 48² random crops of 64² tiles; both directions (a2b adds the tone, b2a "
        "removes it). A demonstration and test fixture, not a general photo filter.",
        "recipe": {"script": "scripts/train_bundled_cyclegan.py", "steps": args.steps, "sets": sets},
        "cpu_minutes": round(cpu, 1) if cpu is not None else previous.get("cpu_minutes"),
        "measured": {
            "benchmark": "benchmarks/cyclegan_report.py",
            "mean": {k: round(v, 3) for k, v in m.items()},
            "spread": round(report["spread"], 3),
            "min_corr": round(report["min_corr"], 3),
        },
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"bundled {dest.relative_to(ROOT)} ({dest.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
