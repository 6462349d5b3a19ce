"""GAN losses and regularisers, written once and shared by the tasks and the tests."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import UsageError


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


def r1_penalty(d: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
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


# -- differentiable augmentation -----------------------------------------------------------------
# DiffAugment (Zhao et al. 2020, https://arxiv.org/abs/2006.10738): the same random, differentiable
# transforms are applied to real and generated images before D, in D's and G's steps alike, so D
# cannot memorise a small training set while G still learns to draw un-augmented images.
DIFFAUG_POLICIES = ("translation", "cutout", "brightness", "contrast")


def parse_diffaug(spec: str | None) -> tuple[str, ...]:
    """``"translation,cutout"`` -> ("translation", "cutout"); empty or None -> () (off)."""
    names = tuple(p.strip() for p in str(spec or "").split(",") if p.strip())
    unknown = [p for p in names if p not in DIFFAUG_POLICIES]
    if unknown:
        raise UsageError(f"loss.diffaug: unknown {unknown}; choose from {', '.join(DIFFAUG_POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policies: tuple[str, ...], rand, randint) -> torch.Tensor:
    """Apply ``policies`` to a batch in [-1, 1]; ``rand(*shape)``/``randint(high, shape)`` supply noise."""
    for policy in policies:
        if policy == "translation":
            x = _translate(x, randint, 0.125)
        elif policy == "cutout":
            x = _cutout(x, randint, 0.5)
        elif policy == "brightness":
            x = x + (rand(x.shape[0], 1, 1, 1).to(x.dtype) - 0.5)
        elif policy == "contrast":
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * (rand(x.shape[0], 1, 1, 1).to(x.dtype) + 0.5) + mean
    return x


def _translate(x: torch.Tensor, randint, ratio: float) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (gather keeps gradients)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = randint(2 * sh + 1, (n,)) - sh
    tx = randint(2 * sw + 1, (n,)) - sw
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = torch.arange(h, device=x.device)[None, :] + sh - ty[:, None]
    cols = torch.arange(w, device=x.device)[None, :] + sw - tx[:, None]
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, randint, ratio: float) -> torch.Tensor:
    """Zero one square of side ``ratio``·size per image, centred anywhere (it may leave the frame)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = randint(h + (1 - ch % 2), (n,)) - ch // 2
    cx = randint(w + (1 - cw % 2), (n,)) - cw // 2
    yy = torch.arange(h, device=x.device)[None, :]
    xx = torch.arange(w, device=x.device)[None, :]
    inside_y = (yy >= cy[:, None]) & (yy < cy[:, None] + ch)
    inside_x = (xx >= cx[:, None]) & (xx < cx[:, None] + cw)
    keep = ~(inside_y[:, :, None] & inside_x[:, None, :])
    return x * keep[:, None].to(x.dtype)
