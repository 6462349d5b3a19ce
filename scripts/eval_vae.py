"""Measure the bundled VAE-family variants and draw the model-card pictures.

    .venv/bin/python scripts/eval_vae.py            # all measurements
    .venv/bin/python scripts/eval_vae.py digits     # one of: digits, beta, svae-photos, svae-shapes

Loads the variants exactly as users do (``genedit_core.load(model, weights=variant)``), so anyone
can rerun it on the installed weights without training. Results go to
``benchmarks/vae_results.json``; pictures to ``docs/models/img/``.

* **digits**: held-out negative ELBO (nats per 32×32 image) of ``vae:digits`` on the 297 held-out
  digits, dequantized as in training, against a diagonal Gaussian fitted to the training digits.
  Also an importance-weighted bound (k = 64), which is tighter than the ELBO.
* **beta**: the single-dimension linear-probe R² (see ``genedit_vae.probe``) of ``beta-vae:shapes``
  (β = 4) and ``beta-vae:shapes-beta1`` (β = 1) on 2,000 held-out shapes, plus traversal grids.
* **svae-photos / svae-shapes**: PSNR (RGB) and SSIM (BT.601 luma) of sketch→image against the
  held-out originals, for the decoder at the prior mean (deterministic baseline), for single samples
  and best-of-8 samples, for a constant mean-colour image; and the diversity of 8 samples per sketch
  (mean pairwise L1 on 0–1 pixels).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "vae_results.json"
IMG = REPO / "docs" / "models" / "img"


def save_grid(rows: list[torch.Tensor], path: Path, scale: int = 3) -> None:
    """Rows of N×C×H×W images (equal N) to one PNG, upscaled with nearest neighbour for viewing."""
    from PIL import Image

    from genedit_core.imageops import make_grid

    ncols = rows[0].shape[0]
    imgs = torch.cat([r.float().cpu().expand(-1, max(x.shape[1] for x in rows), -1, -1) for r in rows])
    arr = (make_grid(imgs.clamp(0, 1), cols=ncols) * 255).round().astype(np.uint8)
    im = Image.fromarray(arr.squeeze(-1) if arr.shape[-1] == 1 else arr)
    im = im.resize((im.width * scale, im.height * scale), Image.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


# -- digits -------------------------------------------------------------------------------------------
def diag_gaussian_nll(train: torch.Tensor, test: torch.Tensor) -> float:
    """NLL (nats per image) of a per-pixel Gaussian fitted by maximum likelihood to ``train``."""
    t = train.flatten(1).double()
    mean, var = t.mean(0), t.var(0, unbiased=False).clamp_min(1e-12)
    x = test.flatten(1).double()
    nll = 0.5 * ((x - mean) ** 2 / var + var.log() + math.log(2 * math.pi))
    return float(nll.sum(1).mean())


@torch.no_grad()
def iwae_bound(model, x: torch.Tensor, k: int, gen: torch.Generator) -> float:
    """−log p(x) bound from k importance samples (Burda et al. 2016), mean nats per image."""
    from genedit_vae.losses import log_normal, recon_nll

    c = model.config
    mu, logvar = model.encode(x)
    logw = []
    for _ in range(k):
        eps = torch.randn(mu.shape, generator=gen)
        z = mu + eps * (0.5 * logvar).exp()
        log_px = -recon_nll(x, model.decode_logits(z), c.likelihood, model.sigma())
        logw.append(
            log_px + log_normal(z, torch.zeros_like(z), torch.zeros_like(z)) - log_normal(z, mu, logvar)
        )
    lw = torch.stack(logw).double()
    return float(-(torch.logsumexp(lw, 0) - math.log(k)).mean())


def eval_digits() -> dict:
    from genedit_vae.ops import sample
    from genedit_vae.training import dequantize, heldout_elbo

    import genedit_core
    from genedit_core.training.data import digits_dataset

    model = genedit_core.load("vae", weights="digits", device="cpu")
    m = model.module
    train = torch.stack(digits_dataset(32, "train").images)
    held = torch.stack(digits_dataset(32, "heldout").images)
    g = torch.Generator().manual_seed(0)
    train_dq, held_dq = dequantize(train, g), dequantize(held, torch.Generator().manual_seed(0))
    d = held.shape[1] * held.shape[2] * held.shape[3]
    runs = [heldout_elbo(m, held_dq, seed=s) for s in range(8)]
    neg_elbo = float(np.mean([r["neg_elbo"] for r in runs]))
    iwae = iwae_bound(m, held_dq, 64, torch.Generator().manual_seed(1))
    baseline = diag_gaussian_nll(train_dq, held_dq)
    # The same numbers as bits per dimension of the 8-bit data: (NLL + D·ln 256) / (D·ln 2).
    bpd = lambda nats: (nats + d * math.log(256)) / (d * math.log(2))  # noqa: E731
    with torch.no_grad():
        x = held[:10]
        rec = m.decode(m.encode(x)[0])
        samples = sample(m, list(range(20)))
    save_grid([x, rec], IMG / "vae-digits-reconstructions.png")
    save_grid([samples[:10], samples[10:]], IMG / "vae-digits-samples.png")
    return {
        "data": "scikit-learn digits, 297 held-out images, 32×32 grey, dequantized 8-bit ((k+u)/256)",
        "dims": d,
        "vae_neg_elbo_nats": round(neg_elbo, 1),
        "vae_recon_nats": round(float(np.mean([r["recon"] for r in runs])), 1),
        "vae_kl_nats": round(float(np.mean([r["kl"] for r in runs])), 2),
        "vae_iwae64_nats": round(iwae, 1),
        "diag_gaussian_nll_nats": round(baseline, 1),
        "vae_neg_elbo_bits_per_dim": round(bpd(neg_elbo), 3),
        "diag_gaussian_bits_per_dim": round(bpd(baseline), 3),
        "beats_baseline": neg_elbo < baseline,
    }


# -- beta-VAE -----------------------------------------------------------------------------------------
def eval_beta() -> dict:
    from genedit_vae.ops import traverse
    from genedit_vae.probe import disentanglement_score
    from genedit_vae.shapes import CONTINUOUS, FACTORS, ShapesDataset
    from genedit_vae.training import heldout_elbo

    import genedit_core

    data = ShapesDataset(2000, size=32, seed=777)
    x = data.images.float() / 255
    factors = data.factor_matrix()[:, [FACTORS.index(f) for f in CONTINUOUS]]
    out = {"data": "2,000 held-out synthetic shapes (seed 777), factors scored: " + ", ".join(CONTINUOUS)}
    for variant in ("shapes", "shapes-beta1"):
        model = genedit_core.load("beta-vae", weights=variant, device="cpu")
        m = model.module
        with torch.no_grad():
            mu = torch.cat([m.encode(x[i : i + 500])[0] for i in range(0, len(x), 500)])
            _, logvar = m.encode(x[:500])
            kl = (0.5 * (mu[:500].pow(2) + logvar.exp() - 1 - logvar)).mean(0)
        score = disentanglement_score(mu, factors, CONTINUOUS)
        order = kl.argsort(descending=True).tolist()
        active = [int(i) for i in order if kl[i] > 0.1]  # dimensions worth a traversal row
        elbo = heldout_elbo(m, x[:500])
        out[variant] = {
            "beta": model.hyperparameters["objective"].get("beta"),
            **score,
            "active_dims_kl_over_0.1_nats": len(active),
            "kl_per_dim": [round(float(v), 3) for v in kl],
            "heldout_neg_elbo_nats": round(elbo["neg_elbo"], 1),
        }
        shown = (active or order)[:6]
        grid = traverse(m, x[3:4], shown, 2.5, 9)
        save_grid([grid], IMG / f"beta-vae-{variant}-traversal.png", scale=3)
        out[variant]["traversal_dims"] = shown
    out["beta4_beats_beta1"] = out["shapes"]["score"] > out["shapes-beta1"]["score"]
    return out


# -- SVAE ---------------------------------------------------------------------------------------------
def _quality(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    from genedit_core.metrics import psnr, rgb_to_y, ssim, to_uint8_range

    ps, ss = [], []
    for p, t in zip(pred, target):
        a = to_uint8_range(p.permute(1, 2, 0).numpy())
        b = to_uint8_range(t.permute(1, 2, 0).numpy())
        ps.append(psnr(a, b))
        ss.append(ssim(rgb_to_y(a), rgb_to_y(b)))
    return float(np.mean(ps)), float(np.mean(ss))


@torch.no_grad()
def svae_scores(m, method: str, x: torch.Tensor, train_mean: torch.Tensor, k: int = 8) -> dict:
    from genedit_vae.ops import sketch_to_images
    from genedit_vae.sketch import extract_sketch

    sk = extract_sketch(x, method)
    mean_img, single, best, div = [], [], [], []
    for i in range(x.shape[0]):
        s = sk[i : i + 1]
        mean_img.append(sketch_to_images(m, s, [0], use_mean=True)[0])
        samples = sketch_to_images(m, s, list(range(k)))
        single.append(samples[0])
        err = (samples - x[i : i + 1]).pow(2).flatten(1).mean(1)
        best.append(samples[int(err.argmin())])
        pair = (samples[:, None] - samples[None]).abs().flatten(2).mean(2)
        div.append(float(pair.sum() / (k * (k - 1))))
    const = train_mean.view(1, 3, 1, 1).expand_as(x)
    res = {}
    for name, pred in (("prior_mean", mean_img), ("one_sample", single), ("best_of_8", best)):
        p, s = _quality(torch.stack(pred), x)
        res[name] = {"psnr": round(p, 2), "ssim": round(s, 4)}
    p, s = _quality(const, x)
    res["constant_mean_colour"] = {"psnr": round(p, 2), "ssim": round(s, 4)}
    res["diversity_mean_pairwise_l1"] = round(float(np.mean(div)), 4)
    return res


def random_crops(photos: list[torch.Tensor], size: int, n: int, seed: int) -> torch.Tensor:
    """``n`` square crops (0.3–1 of the short side), cycling through ``photos``, resized to ``size``."""
    from genedit_vae.ops import resize

    g = torch.Generator().manual_seed(seed)
    crops = []
    for i in range(n):
        p = photos[i % len(photos)]
        h, w = p.shape[-2:]
        side = int(min(h, w) * (0.3 + 0.7 * float(torch.rand(1, generator=g))))
        y = int(torch.randint(0, h - side + 1, (1,), generator=g))
        x = int(torch.randint(0, w - side + 1, (1,), generator=g))
        crops.append(resize(p[None, :, y : y + side, x : x + side], size))
    return torch.cat(crops)


def eval_svae_photos() -> dict:
    from genedit_vae.ops import resize, sketch_to_images
    from genedit_vae.sketch import extract_sketch

    import genedit_core
    from genedit_core.training.data import SKIMAGE_HELDOUT, SKIMAGE_TRAIN, skimage_photo

    model = genedit_core.load("svae", weights="photos", device="cpu")
    m, size = model.module, model.module.config.image_size
    method = model.hyperparameters["sketch_method"]
    photos = [torch.from_numpy(skimage_photo(n).transpose(2, 0, 1).copy()) for n in SKIMAGE_HELDOUT]
    whole = torch.cat([resize(p[None], size) for p in photos])
    crops = random_crops(photos, size, 64, seed=5)
    seen = [torch.from_numpy(skimage_photo(n).transpose(2, 0, 1).copy()) for n in SKIMAGE_TRAIN]
    seen_crops = random_crops(seen, size, 64, seed=6)
    train_mean = torch.stack([torch.from_numpy(skimage_photo(n)).mean((0, 1)) for n in SKIMAGE_TRAIN]).mean(0)
    out = {
        "data": f"held-out scikit-image photographs ({', '.join(SKIMAGE_HELDOUT)}) at {size}×{size}",
        "whole_photos": svae_scores(m, method, whole, train_mean),
        "random_crops_64": svae_scores(m, method, crops, train_mean),
        "training_photo_crops_64_not_held_out": svae_scores(m, method, seen_crops, train_mean),
    }
    with torch.no_grad():
        sk = extract_sketch(whole, method)
        rows = [
            sk,
            whole,
            torch.cat([sketch_to_images(m, sk[i : i + 1], [0], use_mean=True) for i in range(5)]),
        ]
        for seed in (1, 2, 3):
            rows.append(torch.cat([sketch_to_images(m, sk[i : i + 1], [seed]) for i in range(5)]))
    save_grid(rows, IMG / "svae-photos.png", scale=2)
    return out


def eval_svae_shapes() -> dict:
    from genedit_vae.ops import sketch_to_images
    from genedit_vae.shapes import ShapesDataset
    from genedit_vae.sketch import extract_sketch

    import genedit_core

    model = genedit_core.load("svae", weights="shapes", device="cpu")
    m = model.module
    method = model.hyperparameters["sketch_method"]
    x = ShapesDataset(256, size=m.config.image_size, seed=4242).images.float() / 255
    train_mean = (ShapesDataset(2000, size=m.config.image_size, seed=0).images.float() / 255).mean((0, 2, 3))
    out = {
        "data": "256 held-out synthetic shapes (seed 4242)",
        "shapes": svae_scores(m, method, x, train_mean),
    }
    with torch.no_grad():
        sk = extract_sketch(x[:8], method)
        rows = [
            sk,
            x[:8],
            torch.cat([sketch_to_images(m, sk[i : i + 1], [0], use_mean=True) for i in range(8)]),
        ]
        for seed in (1, 2, 3):
            rows.append(torch.cat([sketch_to_images(m, sk[i : i + 1], [seed]) for i in range(8)]))
    save_grid(rows, IMG / "svae-shapes.png", scale=3)
    return out


PARTS = {
    "digits": eval_digits,
    "beta": eval_beta,
    "svae-photos": eval_svae_photos,
    "svae-shapes": eval_svae_shapes,
}


def main() -> int:
    names = sys.argv[1:] or list(PARTS)
    torch.set_num_threads(1)
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for name in names:
        started = time.perf_counter()
        results[name] = PARTS[name]()
        results[name]["eval_seconds"] = round(time.perf_counter() - started, 1)
        print(name, json.dumps(results[name], indent=1), flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
