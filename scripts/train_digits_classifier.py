"""Train the bundled digit classifier (feature extractor for FID/KID/IS) and record it in the manifest.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/train_digits_classifier.py

Trains on the first 1,500 scikit-learn digits (the ``builtin:digits`` training split), reports the
accuracy on the 297 held-out ones, and writes
plugins/genedit-gan/genedit_gan/weights/digits-classifier.safetensors plus its manifest entry.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from genedit_gan.classifier import accuracy, train_classifier
from safetensors.torch import save_file

from genedit_core.training.data import digits_dataset
from genedit_core.weights import sha256_of

WEIGHTS = Path(__file__).resolve().parents[1] / "plugins/genedit-gan/genedit_gan/weights"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    train, held = digits_dataset(32, "train"), digits_dataset(32, "heldout")
    x, y = torch.stack(train.images), torch.tensor(train.labels)
    hx, hy = torch.stack(held.images), torch.tensor(held.labels)
    t0 = time.perf_counter()
    model = train_classifier(x, y, epochs=args.epochs, seed=args.seed)
    seconds = time.perf_counter() - t0
    acc_train, acc_held = accuracy(model, x, y), accuracy(model, hx, hy)
    WEIGHTS.mkdir(parents=True, exist_ok=True)
    path = WEIGHTS / "digits-classifier.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    manifest_path = WEIGHTS / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    manifest["digits-classifier"] = {
        "filename": path.name,
        "sha256": sha256_of(path),
        "licence": "Apache-2.0 (trained on scikit-learn digits, BSD-3-Clause)",
        "description": "Digit classifier used as the offline feature extractor for FID/KID/IS.",
        "recipe": f"scripts/train_digits_classifier.py --epochs {args.epochs} --seed {args.seed}",
        "train_seconds": round(seconds, 1),
        "accuracy_train": round(acc_train, 4),
        "accuracy_heldout": round(acc_held, 4),
    }
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    print(f"trained in {seconds:.1f}s; accuracy train {acc_train:.4f}, held-out {acc_held:.4f}; wrote {path}")


if __name__ == "__main__":
    main()
