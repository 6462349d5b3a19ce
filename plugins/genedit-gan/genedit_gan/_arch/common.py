"""Building blocks shared by the GAN families: latent sampling, slerp and spectral norm.

Spectral norm is our own small module instead of ``torch.nn.utils.spectral_norm`` for two reasons:
its keys (``weight_orig``, ``weight_u``, ``weight_v``) are exactly the ones BigGAN checkpoints carry,
and the module deep-copies cleanly, which the trainer's EMA copy of G needs (the hook-based torch
version keeps a derived ``weight`` tensor that refuses ``deepcopy`` after a forward).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


def truncated_normal(shape: tuple[int, ...], generator: torch.Generator, bound: float = 2.0) -> torch.Tensor:
    """N(0, 1) restricted to [-bound, bound] by resampling, as BigGAN samples z."""
    out = torch.randn(shape, generator=generator)
    for _ in range(100):
        bad = out.abs() > bound
        if not bool(bad.any()):
            break
        out[bad] = torch.randn(int(bad.sum()), generator=generator)
    return out.clamp_(-bound, bound)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation row by row; falls back to lerp for (anti)parallel rows."""
    a_n = a / a.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    b_n = b / b.norm(dim=-1, keepdim=True).clamp_min(1e-8)
    dot = (a_n * b_n).sum(-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.acos(dot)
    so = torch.sin(omega)
    lerp = (1 - t) * a + t * b
    safe = so.abs() > 1e-6
    so = torch.where(safe, so, torch.ones_like(so))
    out = (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b
    return torch.where(safe, out, lerp)


_SKIP_INIT = False


@contextlib.contextmanager
def no_init():
    """Build spectral-norm layers without orthogonal initialisation (their weights are about to be
    loaded; QR-initialising BigGAN-deep's 50M parameters would take tens of seconds)."""
    global _SKIP_INIT
    old, _SKIP_INIT = _SKIP_INIT, True
    try:
        yield
    finally:
        _SKIP_INIT = old


def _orthogonal(w: torch.Tensor) -> torch.Tensor:
    if not _SKIP_INIT:
        nn.init.orthogonal_(w.view(w.shape[0], -1))
    return w


class _SpectralNorm(nn.Module):
    """Divides ``weight_orig`` by its largest singular value, estimated by power iteration.

    In training mode each forward runs ``n_power`` iterations and updates ``u``/``v`` in place;
    in eval mode the stored vectors are used as they are (so a loaded checkpoint is reproduced).
    """

    def _init_sn(self, weight: torch.Tensor, eps: float, n_power: int = 1) -> None:
        self.eps = eps
        self.n_power = n_power
        self.weight_orig = nn.Parameter(weight)
        rows = weight.shape[0]
        cols = weight[0].numel()
        self.register_buffer("weight_u", F.normalize(torch.randn(rows), dim=0, eps=eps))
        self.register_buffer("weight_v", F.normalize(torch.randn(cols), dim=0, eps=eps))

    def sn_weight(self) -> torch.Tensor:
        w = self.weight_orig
        mat = w.reshape(w.shape[0], -1)
        if self.training:
            with torch.no_grad():
                u, v = self.weight_u, self.weight_v
                for _ in range(self.n_power):
                    v = F.normalize(mat.t().mv(u), dim=0, eps=self.eps)
                    u = F.normalize(mat.mv(v), dim=0, eps=self.eps)
                self.weight_u.copy_(u)
                self.weight_v.copy_(v)
        # clones: the next forward updates u and v in place, which must not touch this graph
        u, v = (
            (self.weight_u.clone(), self.weight_v.clone())
            if self.training
            else (self.weight_u, self.weight_v)
        )
        return w / torch.dot(u, mat.mv(v))


class SNConv2d(_SpectralNorm):
    def __init__(self, cin: int, cout: int, k: int, padding: int = 0, bias: bool = True, eps: float = 1e-12):
        super().__init__()
        self._init_sn(_orthogonal(torch.zeros(cout, cin, k, k)), eps)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.sn_weight(), self.bias, padding=self.padding)


class SNLinear(_SpectralNorm):
    def __init__(self, cin: int, cout: int, bias: bool = True, eps: float = 1e-12):
        super().__init__()
        self._init_sn(_orthogonal(torch.zeros(cout, cin)), eps)
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.sn_weight(), self.bias)


class SNEmbedding(_SpectralNorm):
    """Class embedding of the projection discriminator (rows = classes)."""

    def __init__(self, n: int, dim: int, eps: float = 1e-12):
        super().__init__()
        self._init_sn(_orthogonal(torch.zeros(n, dim)), eps)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return F.embedding(y, self.sn_weight())


def log2_int(size: int, what: str) -> int:
    n = int(round(math.log2(size))) if size > 0 else -1
    if n < 2 or 2**n != size:
        raise ValueError(f"{what} must be a power of two >= 4, got {size}")
    return n
