"""GAN losses and regularisers, written once and shared by the tasks and the tests."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def d_logistic(d_real: torch.Tensor, d_fake: torch.Tensor, real_label: float = 1.0) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) on logits (the BCE loss of GAN/DCGAN, StyleGAN2's logistic loss).

    ``real_label`` < 1 smooths the real target (one-sided label smoothing).
    """
    if real_label == 1.0:
        return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
    target = torch.full_like(d_real, real_label)
    return F.binary_cross_entropy_with_logits(d_real, target) + F.softplus(d_fake).mean()


def g_logistic(d_fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating G loss: -log D(G(z))."""
    return F.softplus(-d_fake).mean()


def d_hinge(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    return F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()


def g_hinge(d_fake: torch.Tensor) -> torch.Tensor:
    return -d_fake.mean()


def r1_penalty(d: nn.Module, real: torch.Tensor) -> torch.Tensor:
    """E ||∇_x D(x)||² on real images (Mescheder et al. 2018); the caller scales it by γ/2."""
    x = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(1).mean()


def path_length_penalty(fake: torch.Tensor, ws: torch.Tensor, pl_mean: torch.Tensor, decay: float, ctx):
    """(|J_w^T y| - a)² with y ~ N(0, I)/sqrt(HW) and a the running mean of the lengths (StyleGAN2).

    ``pl_mean`` is updated in place. Returns (penalty, per-sample lengths).
    """
    h, w = fake.shape[-2:]
    noise = torch.randn(fake.shape, generator=ctx.generator, device=fake.device) / math.sqrt(h * w)
    (grad,) = torch.autograd.grad((fake * noise).sum(), ws, create_graph=True)
    lengths = grad.pow(2).sum(2).mean(1).sqrt()
    with torch.no_grad():
        pl_mean.copy_(pl_mean + decay * (lengths.mean() - pl_mean))
    return (lengths - pl_mean).pow(2).mean(), lengths.detach()


def orthogonal_reg(module: nn.Module, beta: float) -> torch.Tensor:
    """BigGAN's β·Σ ||W Wᵀ ⊙ (1 − I)||²_F over the conv/linear weights of ``module``."""
    total = torch.zeros((), device=next(module.parameters()).device)
    if beta <= 0:
        return total
    for name, p in module.named_parameters():
        if p.ndim < 2 or name.startswith("embeddings"):
            continue
        w = p.reshape(p.shape[0], -1)
        gram = w @ w.t()
        total = total + (gram * (1 - torch.eye(gram.shape[0], device=gram.device))).pow(2).sum()
    return beta * total
