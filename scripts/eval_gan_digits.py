"""Score a digits generator: Inception Score, class histogram, FID and KID next to real-vs-real.

    .venv/bin/python scripts/eval_gan_digits.py --model dcgan                       # bundled weights
    .venv/bin/python scripts/eval_gan_digits.py --model dcgan --weights runs/dcgan-digits
    .venv/bin/python scripts/eval_gan_digits.py --model biggan --weights runs/biggan-digits --json

Features come from the bundled digit classifier (scripts/train_digits_classifier.py). The reference
set is the 1,500-image training split of scikit-learn digits; the 297 held-out digits, scored against
the same reference, give the real-vs-real floor. Seeds 0..N-1 are used, so reruns give the same
numbers on the same machine. The same report is available as ``genedit eval generate --model M
--data builtin:digits``; this script adds how far samples sit from their nearest training digit (a
memorisation check FID cannot make).
"""

from __future__ import annotations

import argparse
import json


def nearest_training_distances(model, samples: int = 1000) -> dict:
    """How close samples sit to their nearest training digit, next to the held-out digits' distances.

    FID against the training split cannot tell a generator that copies training digits from one
    that generalises (a copier scores *below* the real held-out floor). Pixel L2 at 32×32 (0–1) to
    the nearest of the 1,500 training digits answers that: ``near_copy_pct`` is the share of samples
    closer to a training digit than 99% of the held-out digits are.
    """
    import torch
    from genedit_gan.sampling import generate_images

    from genedit_core.training.data import digits_dataset

    train = torch.stack(digits_dataset(32, "train").images).flatten(1)
    held = torch.stack(digits_dataset(32, "heldout").images).flatten(1)
    gen = generate_images(model, list(range(samples)), {}).float()
    if gen.shape[-1] != 32:
        gen = torch.nn.functional.interpolate(gen, size=(32, 32), mode="bilinear", align_corners=False)
    gen = gen.mean(1).flatten(1)
    d_gen = torch.cdist(gen, train).min(1).values
    d_held = torch.cdist(held, train).min(1).values
    floor = torch.quantile(d_held, 0.01)
    return {
        "generated_median": float(d_gen.median()),
        "heldout_median": float(d_held.median()),
        "near_copy_pct": 100 * float((d_gen < floor).float().mean()),
    }


def measure(model_name: str, weights: str | None, samples: int = 1000, quiet: bool = False) -> dict:
    from genedit_gan.evaluation import evaluate_generator

    import genedit_core

    model = genedit_core.load(model_name, weights=weights, device="cpu", dtype="fp32")
    report = evaluate_generator(model, "builtin:digits", {"samples": samples})
    report["weights"] = model.weights.origin if model.weights else None
    report["nearest_training"] = nearest_training_distances(model, samples)
    if not quiet:
        print(
            f"{model_name} ({report['weights']}); features: {report['extractor']}; reference: {report['reference']}"
        )
        print(f"{'set':34s} {'n':>5s} {'FID':>8s} {'KID':>9s} {'IS':>6s} {'min%':>6s} {'max%':>6s}")
        for r in report["rows"]:
            print(
                f"{r['image']:34s} {r['n']:5d} {r['fid']:8.2f} {r['kid']:9.2f} {r['is']:6.2f} "
                f"{r['min_class_pct']:6.1f} {r['max_class_pct']:6.1f}"
            )
        hist = report["rows"][0]["histogram"]
        print("class histogram (generated):", " ".join(f"{i}:{100 * h:.1f}%" for i, h in enumerate(hist)))
        for k in ("class_acc_pct", "class_acc_min_pct"):
            if k in report["summary"]:
                print(f"{k}: {report['summary'][k]:.1f}")
        nt = report["nearest_training"]
        print(
            f"nearest training digit (pixel L2 at 32x32): generated median {nt['generated_median']:.2f}, "
            f"real held-out median {nt['heldout_median']:.2f}; "
            f"near copies (closer than 99% of held-out): {nt['near_copy_pct']:.1f}%"
        )
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="dcgan")
    ap.add_argument("--weights", default=None, help="variant, file or run directory")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report = measure(args.model, args.weights, args.samples, quiet=args.json)
    if args.json:
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
