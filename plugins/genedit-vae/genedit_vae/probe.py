"""A simple disentanglement score: how well can each factor be read from one latent dimension?

For every ground-truth factor k and latent dimension j we fit the 1-D least-squares line
factor_k ≈ a·μ_j + b on posterior means and record its R². A factor's score is its best single
dimension (max over j); the model's score is the mean over factors. An entangled code spreads a
factor over a rotated mix of dimensions, so no single dimension explains it well and the score
drops, even when all dimensions together (the ``full`` R², a linear probe on the whole code) hold
the same information. The ``gap`` (best minus second-best dimension, as in MIG) shows whether one
dimension alone owns the factor.
"""

from __future__ import annotations

import torch


def r2_matrix(codes: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """R² of every (factor, latent dim) pair of 1-D linear fits: K×D, in [0, 1]."""
    z = codes.double() - codes.double().mean(0)
    f = factors.double() - factors.double().mean(0)
    cov = f.t() @ z / z.shape[0]
    var_z = z.pow(2).mean(0)
    var_f = f.pow(2).mean(0)
    denom = var_f[:, None] * var_z[None, :]
    r2 = torch.where(denom > 1e-12, cov.pow(2) / denom.clamp_min(1e-12), torch.zeros_like(cov))
    return r2.clamp(0, 1).float()


def full_r2(codes: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """R² of a linear probe on all dimensions at once, per factor (K,)."""
    z = torch.cat([codes.double(), torch.ones(codes.shape[0], 1, dtype=torch.float64)], dim=1)
    f = factors.double()
    coef = torch.linalg.lstsq(z, f).solution
    resid = f - z @ coef
    var = (f - f.mean(0)).pow(2).sum(0).clamp_min(1e-12)
    return (1 - resid.pow(2).sum(0) / var).clamp(0, 1).float()


def disentanglement_score(codes: torch.Tensor, factors: torch.Tensor, names: tuple[str, ...]) -> dict:
    """Per-factor best single-dimension R², the dimension that achieves it, the gap and the mean."""
    r2 = r2_matrix(codes, factors)
    top = r2.topk(min(2, r2.shape[1]), dim=1)
    best = top.values[:, 0]
    second = top.values[:, 1] if r2.shape[1] > 1 else torch.zeros_like(best)
    full = full_r2(codes, factors)
    per_factor = {
        name: {
            "best_dim": int(top.indices[k, 0]),
            "r2": round(float(best[k]), 4),
            "gap": round(float(best[k] - second[k]), 4),
            "full_r2": round(float(full[k]), 4),
        }
        for k, name in enumerate(names)
    }
    return {
        "score": round(float(best.mean()), 4),
        "mean_gap": round(float((best - second).mean()), 4),
        "mean_full_r2": round(float(full.mean()), 4),
        "factors": per_factor,
    }
