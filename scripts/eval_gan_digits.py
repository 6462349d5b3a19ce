"""Score a digits generator: Inception Score, class histogram, FID and KID next to real-vs-real.

    .venv/bin/python scripts/eval_gan_digits.py --model dcgan                       # bundled weights
    .venv/bin/python scripts/eval_gan_digits.py --model dcgan --weights runs/dcgan-digits
    .venv/bin/python scripts/eval_gan_digits.py --model biggan --weights runs/biggan-digits --json

Features come from the bundled digit classifier (scripts/train_digits_classifier.py). The reference
set is the 1,500-image training split of scikit-learn digits; the 297 held-out digits, scored against
the same reference, give the real-vs-real floor. Seeds 0..N-1 are used, so reruns give the same
numbers on the same machine. The same report is available as ``genedit eval generate --model M
--data builtin:digits``.
"""

from __future__ import annotations

import argparse
import json


def measure(model_name: str, weights: str | None, samples: int = 1000, quiet: bool = False) -> dict:
    from genedit_gan.evaluation import evaluate_generator

    import genedit_core

    model = genedit_core.load(model_name, weights=weights, device="cpu", dtype="fp32")
    report = evaluate_generator(model, "builtin:digits", {"samples": samples})
    report["weights"] = model.weights.origin if model.weights else None
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
