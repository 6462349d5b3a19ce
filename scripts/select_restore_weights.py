"""Decide whether a fixed-σ DnCNN (``photos-s25``) ships, on a fresh validation split.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/select_restore_weights.py [--json PATH]

Why a fresh split: every blind DnCNN stage since the second kept the best of 10-21 evaluations on
the same three validation crops (ColdRipple, LadyBird, Storm), so they carry that selection's
optimism and are too few to tell 0.1 dB apart; the held-out photos (``builtin:skimage-photos:heldout``)
must choose nothing. Disclosure: the σ = 25 fine-tunes' held-out scores (run 1 30.54 dB, run 2
30.44, the blind control 30.42, against 30.29 for the shipped blind model) were seen before this
split existed; this script exists so that those numbers do not decide.

Data: eight photographs from three Debian packages that no training stage used (training used
plasma-workspace-wallpapers, mate-backgrounds and lomiri-wallpapers-16.04/-20.04) and that chose no
checkpoint; ``FRESH_PHOTOS`` lists them with author and licence. ``gnome-backgrounds`` and
``ukui-wallpapers`` hold renders and illustrations only, and the packages' other images (palapeli's
table textures, sddm-theme-maldives' preview ``maldives.jpg``, a copy of ``background.jpg``) were
left out. Each JPEG is box-downscaled as ``scripts/train_bundled_restore.py``'s ``prepare_photos``
does (``max(2, round(longest side / 900))``, to 500-864 pixels), then ``CROPS`` 256-pixel crops are
drawn per photo at seeded positions, and seeded Gaussian noise (``genedit_restore.evaluation``, the
DnCNN paper's convention, seed ``NOISE_SEED``) is added per crop at σ = 25 and 50.

Candidates: the shipped blind ``photos-blind`` (stage 5), the σ = 25 fine-tunes run 1
(``runs/dncnn-s25-run1.safetensors``, 2400 steps Adam 5e-5, step 1500 kept) and run 2
(``runs/dncnn-s25-run2.safetensors``, Adam 1e-5, step 250 kept), both the fp16 files that would
ship, and the blind control (``runs/dncnn-ctl``: 250 steps Adam 1e-5 with blind noise), plus
NL-means (the best classical method) for scale. The weights under ``runs/`` are not in git; the
script skips a candidate whose file is missing and says so.

Rule, registered here before the script was first run (it was not changed after):
  Among the fixed-σ candidates (run 1, run 2), take the one with the highest mean PSNR at σ = 25 on
  this split. Ship it as ``photos-s25`` only if its paired difference against ``photos-blind`` at
  σ = 25 (candidate minus blind, per crop, averaged over all crops) is above 0 and above one
  standard error. The standard error is the larger of (a) the crops' standard error (sd / sqrt(n))
  and (b) the standard deviation of the mean under a bootstrap that resamples whole photos
  (``BOOTSTRAP`` draws, seeded), since crops of one photo are not independent. Otherwise nothing
  ships and ``photos-blind`` stays the only DnCNN variant. The control is not a candidate (it is
  blind, not fixed-σ); its row shows how much of any gain a short fine-tune alone gives.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


class Photo(NamedTuple):
    name: str
    path: Path
    package: str
    author: str
    licence: str


# Photographs only (each looked at); authors and licences from the .desktop files in
# /usr/share/palapeli/collection (palapeli-data) and /usr/share/doc/{puzzle-jigsaw,
# sddm-theme-maldives}/copyright.
_PALAPELI = Path("/usr/share/palapeli/collection")
_JIGSAW = Path("/usr/share/puzzle-jigsaw/samples")
FRESH_PHOTOS = (
    Photo("castle-maintenon", _PALAPELI / "castle-maintenon.jpg", "palapeli-data", "Eric Pouhier", "GFDL"),
    Photo("cincinnati-bridge", _PALAPELI / "cincinnati-bridge.jpg", "palapeli-data", "Derek Jensen", "public domain"),
    Photo("citrus-fruits", _PALAPELI / "citrus-fruits.jpg", "palapeli-data", "US Department of Agriculture",
          "public domain"),
    Photo("european-honey-bee", _PALAPELI / "european-honey-bee.jpg", "palapeli-data", "John Severns",
          "public domain"),
    Photo("panther-chameleon", _PALAPELI / "panther-chameleon-female.jpg", "palapeli-data", "B. Navez and others",
          "GFDL"),
    Photo("cat", _JIGSAW / "cat-animal-cat-portrait-mackerel.jpg", "puzzle-jigsaw", "Pexels", "CC0-1.0"),
    Photo("tiger", _JIGSAW / "pexels-photo-302304.jpeg", "puzzle-jigsaw", "Pexels", "CC0-1.0"),
    Photo("maldives", Path("/usr/share/sddm/themes/maldives/background.jpg"), "sddm-theme-maldives",
          "Nevit Dilmen", "CC-BY-3.0"),
)  # fmt: skip
INSTALL_HINT = "sudo apt-get install palapeli-data puzzle-jigsaw sddm-theme-maldives"

CROP = 256
CROPS = 5  # per photo: 40 crops
CROP_SEED = 20261203
NOISE_SEED = 7  # the held-out evaluation uses 0
BOOTSTRAP = 10_000
SIGMAS = (25.0, 50.0)
RULE_SIGMA = 25.0

BLIND = "photos-blind"
CANDIDATES = {  # label -> (weights for genedit_core.load, fixed-σ candidate?)
    BLIND: (None, False),  # the shipped default
    "s25-run1": ("runs/dncnn-s25-run1.safetensors", True),
    "s25-run2": ("runs/dncnn-s25-run2.safetensors", True),
    "blind-control": ("runs/dncnn-ctl", False),
}


def fresh_crops() -> list[tuple[str, str, torch.Tensor]]:
    """(photo, crop name, 3×256×256 tensor of 8-bit values in 0-1) for every fresh crop."""
    from PIL import Image

    missing = [p.path for p in FRESH_PHOTOS if not p.path.exists()]
    if missing:
        raise SystemExit(f"missing {', '.join(map(str, missing))}; install them with\n  {INSTALL_HINT}")
    out = []
    for i, photo in enumerate(FRESH_PHOTOS):
        with Image.open(photo.path) as im:
            rgb = im.convert("RGB")
        rgb = rgb.reduce(max(2, round(max(rgb.size) / 900)))  # as prepare_photos does
        pixels = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).float() / 255.0
        h, w = pixels.shape[-2:]
        rng = np.random.default_rng([CROP_SEED, i])
        for k in range(CROPS):
            y, x = int(rng.integers(0, h - CROP + 1)), int(rng.integers(0, w - CROP + 1))
            out.append((photo.name, f"{photo.name}#{k}", pixels[:, y : y + CROP, x : x + CROP].contiguous()))
    return out


def score(weights: str | None, model_name: str, refs, sigmas) -> dict[float, np.ndarray]:
    """Per-crop PSNR at each σ for one model (a network runs whole-crop; NL-means gets the true σ)."""
    from genedit_restore import classical
    from genedit_restore.evaluation import evaluate_denoiser

    import genedit_core

    model = genedit_core.load(model_name, weights=weights, device="cpu", dtype="fp32")
    if isinstance(model.module, classical.ClassicalDenoiser):
        run = lambda x, s: model.module(x, s)  # noqa: E731
    else:
        run = lambda x, s: model(x)  # noqa: E731
    report = evaluate_denoiser(run, refs, sigmas, seed=NOISE_SEED)
    return {s: np.array([r[f"psnr_{s:g}"] for r in report["rows"]]) for s in sigmas}


def paired(diff: np.ndarray, photos: np.ndarray) -> dict[str, float]:
    """Mean of per-crop differences, its crop standard error, and a photo-resampling bootstrap's."""
    names = sorted(set(photos))
    groups = [diff[photos == n] for n in names]
    rng = np.random.default_rng(0)
    boots = []
    for _ in range(BOOTSTRAP):
        pick = rng.integers(0, len(groups), len(groups))
        boots.append(float(np.concatenate([groups[j] for j in pick]).mean()))
    se_crop = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    se_photo = float(np.std(boots, ddof=1))
    return {
        "mean": float(diff.mean()),
        "se_crop": se_crop,
        "se_photo": se_photo,
        "se": max(se_crop, se_photo),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", help="also write the per-crop scores and the decision here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    crops = fresh_crops()
    refs = [(name, t) for _, name, t in crops]
    photos = np.array([p for p, _, _ in crops])
    print(f"fresh split: {len(FRESH_PHOTOS)} photos x {CROPS} crops of {CROP}^2 = {len(refs)} crops")

    results: dict[str, dict[float, np.ndarray]] = {}
    results["nlmeans"] = score(None, "nlmeans", refs, SIGMAS)
    for label, (weights, fixed) in CANDIDATES.items():
        if weights and not (ROOT / weights).exists():
            print(f"  {label}: {weights} is missing, skipped")
            continue
        sigmas = (RULE_SIGMA,) if fixed else SIGMAS
        results[label] = score(str(ROOT / weights) if weights else None, "dncnn", refs, sigmas)
        print(
            f"  {label}: " + ", ".join(f"σ{s:g} {v.mean():.3f}" for s, v in results[label].items()),
            flush=True,
        )

    names = [p.name for p in FRESH_PHOTOS]
    print("\nmean PSNR (dB) over the fresh crops, then per photo at σ = 25:")
    print("| model | σ = 25 | σ = 50 | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for label, by_sigma in results.items():
        cells = [f"{by_sigma[s].mean():.2f}" if s in by_sigma else "-" for s in SIGMAS]
        per = [f"{by_sigma[RULE_SIGMA][photos == n].mean():.2f}" for n in names]
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(per) + " |")

    print(f"\npaired difference against {BLIND} at σ = {RULE_SIGMA:g} (dB; per crop, then averaged):")
    print("| model | mean diff | se (crops) | se (photo bootstrap) | crops better |")
    print("|---|---|---|---|---|")
    stats = {}
    for label in results:
        if label in (BLIND, "nlmeans") or BLIND not in results:
            continue
        diff = results[label][RULE_SIGMA] - results[BLIND][RULE_SIGMA]
        stats[label] = paired(diff, photos)
        st = stats[label]
        print(
            f"| {label} | {st['mean']:+.3f} | {st['se_crop']:.3f} | {st['se_photo']:.3f} | "
            f"{int((diff > 0).sum())}/{len(diff)} |"
        )

    fixed = [lbl for lbl, (_, f) in CANDIDATES.items() if f and lbl in results]
    decision: dict = {"ship": False, "candidate": None}
    if fixed and BLIND in results:
        best = max(fixed, key=lambda lbl: results[lbl][RULE_SIGMA].mean())
        st = stats[best]
        ship = st["mean"] > 0 and st["mean"] > st["se"]
        decision = {"ship": ship, "candidate": best, **st}
        print(
            f"\nrule: best fixed-σ candidate {best} ({results[best][RULE_SIGMA].mean():.3f} dB at σ = 25); "
            f"paired diff {st['mean']:+.3f} dB against se {st['se']:.3f}: "
            + ("SHIP it as photos-s25" if ship else "do NOT ship; photos-blind stays the only variant")
        )
    if args.json:
        payload = {
            "photos": [p._asdict() | {"path": str(p.path)} for p in FRESH_PHOTOS],
            "crops": [name for _, name, _ in crops],
            "psnr": {lbl: {f"{s:g}": v.tolist() for s, v in r.items()} for lbl, r in results.items()},
            "paired": stats,
            "decision": decision,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
