"""The ``generate`` metric: FID, KID, Inception Score and class balance of a generator's samples.

Features and class probabilities come from a pluggable extractor: ``digits`` (the bundled digit
classifier, offline) or ``package.module:factory``, a callable returning an object that maps N×C×H×W
images in 0–1 to ``(features N×D, probabilities N×K)`` numpy arrays, e.g. an Inception network
built from weights the user supplies. The real-vs-real row (held-out images against the same
reference) shows the floor the generator's FID should be read against.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genedit_core.sdk import UsageError, class_histogram, fid, inception_score, kid

from .sampling import generate_images

BATCH = 128


class DigitsExtractor:
    """Penultimate activations and softmax of the bundled digit classifier."""

    name = "digits"

    def __init__(self, device: str = "cpu"):
        from .classifier import load_bundled

        self.model = load_bundled(device)
        self.device = device

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        from .classifier import prepare

        feats, probs = [], []
        for i in range(0, len(images), BATCH):
            x = prepare(images[i : i + BATCH].to(self.device))
            f = self.model.features(x)
            feats.append(f.cpu().double().numpy())
            probs.append(torch.softmax(self.model.fc2(f), 1).cpu().double().numpy())
        return np.concatenate(feats), np.concatenate(probs)


def get_extractor(spec: str | None):
    spec = spec or "digits"
    if spec == "digits":
        return DigitsExtractor()
    if ":" in spec:
        mod, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as exc:
            raise UsageError(f"--extractor {spec}: cannot import it ({exc})") from None
        return factory()
    raise UsageError(f"--extractor {spec}: expected 'digits' or 'package.module:factory'")


def reference_sets(data: str | Path | None) -> tuple[torch.Tensor, torch.Tensor | None, str]:
    """(reference images, held-out images or None, description). Images N×1×32×32 in 0–1."""
    text = str(data) if data is not None else "builtin:digits"
    if text.startswith("builtin:digits"):
        from genedit_core.sdk import digits_dataset

        ref = torch.stack(digits_dataset(32, "train").images)
        held = torch.stack(digits_dataset(32, "heldout").images)
        return ref, held, "builtin:digits (train split 1,500 as reference; 297 held out)"
    path = Path(text)
    if not path.is_dir():
        raise UsageError(f"--data {text}: expected builtin:digits or a folder of real images")
    from genedit_core.sdk import ImageFolder

    from .classifier import prepare

    folder = ImageFolder(path, channels=3)
    ref = torch.cat([prepare(img[None]) for img in folder.images])
    return ref, None, f"{path} ({len(ref)} images)"


def _row(label: str, feats, probs, ref_feats) -> dict[str, Any]:
    hist = class_histogram(probs)
    is_mean, _ = inception_score(probs)
    kid_mean, _ = kid(feats, ref_feats, subsets=50, subset_size=min(500, len(feats), len(ref_feats)))
    return {
        "image": label,
        "n": int(len(feats)),
        "fid": fid(feats, ref_feats),
        "kid": kid_mean,
        "is": is_mean,
        "min_class_pct": 100 * float(hist.min()),
        "max_class_pct": 100 * float(hist.max()),
        "histogram": [round(float(h), 4) for h in hist],
    }


def class_accuracy(model, extractor, per_class: int = 100, truncation: float | None = None) -> list[float]:
    """For a class-conditional model: the share of samples of class k that the extractor calls k."""
    n = int(model.hyperparameters.get("num_classes", 0))
    out = []
    for k in range(n):
        seeds = list(range(k * per_class, (k + 1) * per_class))
        imgs = generate_images(model, seeds, {"class": str(k), "truncation": truncation})
        _, probs = extractor(imgs)
        out.append(float((probs.argmax(1) == k).mean()))
    return out


def evaluate_generator(model, data: Any, params: dict[str, Any]) -> dict[str, Any]:
    n = int(params.get("samples", 1000))
    offset = int(params.get("seed_offset", 0))
    truncation = params.get("truncation")
    truncation = None if truncation is None else float(truncation)
    extractor = get_extractor(params.get("extractor"))
    ref, held, described = reference_sets(data)
    ref_feats, _ = extractor(ref)
    images = generate_images(model, list(range(offset, offset + n)), {"truncation": truncation})
    g_feats, g_probs = extractor(images)
    rows = [_row(f"generated ({n})", g_feats, g_probs, ref_feats)]
    if held is not None:
        h_feats, h_probs = extractor(held)
        m = len(held)
        if m < n:
            rows.append(_row(f"generated ({m}, held-out size)", g_feats[:m], g_probs[:m], ref_feats))
        rows.append(_row(f"real held-out ({m})", h_feats, h_probs, ref_feats))
    summary = {k: rows[0][k] for k in ("n", "fid", "kid", "is", "min_class_pct", "max_class_pct")}
    conditional = int(model.hyperparameters.get("num_classes", 0))
    if conditional and conditional == g_probs.shape[1]:
        acc = class_accuracy(model, extractor, int(params.get("per_class", 100)), truncation)
        summary["class_acc_pct"] = 100 * float(np.mean(acc))
        summary["class_acc_min_pct"] = 100 * float(np.min(acc))
    return {
        "columns": ["image", "n", "fid", "kid", "is", "min_class_pct", "max_class_pct"],
        "rows": rows,
        "summary": summary,
        "reference": described,
        "extractor": getattr(extractor, "name", str(params.get("extractor"))),
    }
