"""Sample-quality maths for generative models: FID, KID, Inception Score and class histograms.

The maths is independent of the feature extractor (Inception, a digit classifier, anything that
maps images to vectors and class probabilities), so it lives in the core:

* FID (Heusel et al. 2017): ||μ₁ − μ₂||² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½), with Tr((Σ₁Σ₂)^½) computed as
  the sum of square roots of the eigenvalues of Σ₁^½ Σ₂ Σ₁^½ (symmetric, so no complex sqrtm).
  Covariances use N − 1, like the reference implementations.
* KID (Bińkowski et al. 2018): unbiased MMD² with the kernel k(x, y) = (xᵀy / d + 1)³, averaged
  over random subsets.
* IS (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), optionally as the mean over splits.
"""

from __future__ import annotations

import numpy as np


def feature_stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(feats, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors as an N×D array, got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    s1 = _sqrt_psd(np.asarray(sigma1, dtype=np.float64))
    inner = s1 @ np.asarray(sigma2, dtype=np.float64) @ s1
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum())
    diff = np.asarray(mu1, dtype=np.float64) - np.asarray(mu2, dtype=np.float64)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def fid(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    return frechet_distance(*feature_stats(feats_a), *feature_stats(feats_b))


def kid(
    feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased polynomial-kernel MMD² over random subsets."""
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples on each side")
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        term = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        out.append(term - 2 * kxy.mean())
    return float(np.mean(out)), float(np.std(out))


def inception_score(probs: np.ndarray, splits: int = 1, eps: float = 1e-12) -> tuple[float, float]:
    """exp(E KL(p(y|x) || p(y))) per split; returns the mean and standard deviation over splits."""
    p = np.asarray(probs, dtype=np.float64)
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(0, keepdims=True)
        kl = (part * (np.log(part + eps) - np.log(py + eps))).sum(1)
        scores.append(float(np.exp(kl.mean())))
    return float(np.mean(scores)), float(np.std(scores))


def class_histogram(probs: np.ndarray) -> np.ndarray:
    """Fraction of samples whose most likely class is each class."""
    p = np.asarray(probs)
    counts = np.bincount(p.argmax(1), minlength=p.shape[1])
    return counts / max(1, counts.sum())
