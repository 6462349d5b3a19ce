"""Short runs of tiny BigGAN (class-conditional) and StyleGAN2 on scikit-learn digits, then measure them.

    .venv/bin/python benchmarks/bench_gan_digits.py                    # both, 8 min (wall) of training each
    .venv/bin/python benchmarks/bench_gan_digits.py --only biggan --minutes 5

Each model is trained with ``genedit train MODEL --data builtin:digits`` (one thread, a wall-clock
budget via train.max_minutes) and scored like the bundled DCGAN (scripts/eval_gan_digits.py):
digit-classifier IS, class balance, FID/KID against the real-vs-real floor, and for BigGAN the share
of samples conditioned on class k that the classifier reads as k (target >= 70%). StyleGAN2 has no
target; the numbers are reported as they come. Results are printed and written to
runs/bench_gan_digits.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from _common import run_one_thread, train_command  # noqa: E402

CONFIGS = {
    "biggan": [
        "model.size=16",
        "model.nc=1",
        "model.num_classes=10",
        "model.z_dim=48",
        "model.embed_dim=16",
        "model.channel_width=8",
        "model.d_width=16",
        "model.g_attention=1",
        "model.d_attention=1",
        "optim.g.lr=2e-4",
        "optim.d.lr=4e-4",
        "ema.g=0.99",
        "train.batch_size=32",
        "train.steps=20000",
    ],
    "stylegan2": [
        "model.size=16",
        "model.nc=1",
        "model.style_dim=32",
        "model.n_mlp=2",
        "model.channel_base=256",
        "model.channel_max=32",
        "loss.r1=0.1",
        "loss.path_regularize=0.5",
        "ema.g=0.99",
        "train.batch_size=32",
        "train.steps=20000",
    ],
}
COMMON = ["train.sample_every=500", "train.ckpt_every=500", "train.log_every=50", "train.seed=0"]


def train(name: str, minutes: float, run: Path) -> tuple[float, float]:
    """Train under a wall-clock budget; returns (wall minutes, CPU minutes of the training process)."""
    cmd = train_command(name, run, CONFIGS[name] + COMMON + [f"train.max_minutes={minutes}"])
    print("OMP_NUM_THREADS=1 genedit", " ".join(cmd[1:]), flush=True)
    return run_one_thread(cmd)


def raw_generator_scores(name: str, run: Path) -> dict:
    """IS (and BigGAN's class accuracy) of the last checkpoint's raw G, next to the exported EMA G.

    In a run of about a thousand steps an EMA with decay 0.999 still carries ~1/e of the random
    initial weights, so the raw G is the fairer picture of what the short run learnt.
    """
    from genedit_gan.evaluation import DigitsExtractor, class_accuracy
    from genedit_gan.sampling import generate_images
    from safetensors.torch import load_file

    import genedit_core
    from genedit_core.metrics_generative import inception_score

    last = json.loads((run / "checkpoints" / "last.json").read_text())["dir"]
    flat = load_file(str(run / "checkpoints" / last / "nets.safetensors"))
    model = genedit_core.load(name, weights=str(run), device="cpu", dtype="fp32")
    model.module.load_state_dict({k[2:]: v for k, v in flat.items() if k.startswith("g/")})
    model.module.eval()
    extractor = DigitsExtractor()
    _, probs = extractor(generate_images(model, list(range(1000)), {}))
    out = {"is": inception_score(probs)[0]}
    if name == "biggan":
        acc = class_accuracy(model, extractor, 100)
        out["class_acc_pct"] = 100 * sum(acc) / len(acc)
        out["class_acc_min_pct"] = 100 * min(acc)
    print(f"{name} raw G (no EMA): " + ", ".join(f"{k} {v:.2f}" for k, v in out.items()), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--minutes", type=float, default=8.0)
    ap.add_argument("--skip-train", action="store_true")
    args = ap.parse_args()
    from eval_gan_digits import measure

    results = {}
    for name in [args.only] if args.only else list(CONFIGS):
        run = ROOT / "runs" / f"bench-{name}-digits"
        minutes, cpu = (None, None) if args.skip_train else train(name, args.minutes, run)
        steps = json.loads((run / "checkpoints" / "last.json").read_text())["step"]
        report = measure(name, str(run))
        results[name] = {
            "wall_minutes": minutes,
            "cpu_minutes": cpu,
            "steps": steps,
            "summary": report["summary"],
            "rows": report["rows"],
        }
        results[name]["raw_g"] = raw_generator_scores(name, run)
        timing = f" in {minutes:.1f} min wall, {cpu:.1f} min CPU" if minutes else ""
        print(f"{name}: {steps} steps{timing}", flush=True)
    out = ROOT / "runs" / "bench_gan_digits.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    if "biggan" in results:
        acc = max(
            results["biggan"]["summary"].get("class_acc_pct", 0.0),
            results["biggan"]["raw_g"]["class_acc_pct"],
        )
        print(
            f"biggan class-conditional accuracy {acc:.1f}% (target >= 70%): {'met' if acc >= 70 else 'NOT met'}"
        )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
