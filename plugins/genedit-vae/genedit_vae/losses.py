"""The ELBO and the three training objectives, all in nats per image.

* ``elbo``: log p(x|z) − KL(q(z|x) ‖ p(z)), with the KL in closed form for diagonal Gaussians.
* Higgins et al. 2017 (β-VAE): recon + β·KL. β = 1 is the plain VAE.
* Burgess et al. 2018 ("Understanding disentangling in β-VAE"): recon + γ·|KL − C|, where the
  capacity C grows linearly from 0 to C_max over a step budget, so the KL is let out gradually.

The reconstruction term is a proper negative log-likelihood: Bernoulli (BCE on logits, exact for
binary images) or Gaussian with a fixed or learned per-pixel σ (MSE scaled by 1/2σ² plus the
normaliser), so the reported ELBO is comparable with any other density model on the same data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from genedit_core.sdk import unwrap

LOG_2PI = math.log(2 * math.pi)


def kl_diag_normal(
    mu: torch.Tensor,
    logvar: torch.Tensor,
    prior_mu: torch.Tensor | None = None,
    prior_logvar: torch.Tensor | None = None,
) -> torch.Tensor:
    """KL(N(mu, e^logvar) ‖ N(prior_mu, e^prior_logvar)) per latent dimension (N×D)."""
    if prior_mu is None:
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    assert prior_logvar is not None
    return 0.5 * (prior_logvar - logvar + (logvar.exp() + (mu - prior_mu).pow(2)) / prior_logvar.exp() - 1.0)


def recon_nll(
    x: torch.Tensor, logits: torch.Tensor, likelihood: str, sigma: torch.Tensor | None = None
) -> torch.Tensor:
    """−log p(x|z) in nats per image (N,)."""
    if likelihood == "bce":
        return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    if likelihood == "gaussian":
        assert sigma is not None
        mean = torch.sigmoid(logits)
        sigma = sigma.expand_as(x)
        nll = 0.5 * ((x - mean) / sigma).pow(2) + sigma.log() + 0.5 * LOG_2PI
        return nll.flatten(1).sum(1)
    raise ValueError(f"unknown likelihood '{likelihood}' (use bce or gaussian)")


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, e^logvar) summed over the last dimension."""
    return (-0.5 * (LOG_2PI + logvar + (z - mu).pow(2) / logvar.exp())).sum(-1)


def capacity(step: int, c_max: float, c_steps: int) -> float:
    """Burgess capacity C at ``step``: linear from 0 to ``c_max`` nats over ``c_steps``, then flat."""
    if c_steps <= 0:
        return float(c_max)
    return float(c_max) * min(1.0, max(step, 0) / c_steps)


@dataclass(frozen=True)
class Objective:
    """Which loss to minimise: ``kind`` is ``vae``, ``beta`` (Higgins) or ``capacity`` (Burgess)."""

    kind: str = "vae"
    beta: float = 1.0
    gamma: float = 1000.0
    c_max: float = 25.0
    c_steps: int = 10000

    def __post_init__(self) -> None:
        if self.kind not in ("vae", "beta", "capacity"):
            raise ValueError(f"loss.objective must be vae, beta or capacity, got '{self.kind}'")

    def kl_term(self, kl: torch.Tensor, step: int) -> torch.Tensor:
        """The KL part of the loss for a batch-mean KL ``kl`` (nats per image)."""
        if self.kind == "vae":
            return kl
        if self.kind == "beta":
            return self.beta * kl
        return self.gamma * (kl - capacity(step, self.c_max, self.c_steps)).abs()


def elbo_terms(
    model, x: torch.Tensor, sketch: torch.Tensor | None = None, eps: torch.Tensor | None = None
) -> dict:
    """One-sample ELBO pieces per image: ``recon`` (−log p(x|z)), ``kl`` (analytic), ``kl_dims`` (N×D),
    ``elbo`` = −recon − kl, and the forward outputs.

    ``model`` may be DDP-wrapped (a training step passes ``ctx.nets["model"]``): the forward pass
    goes through the wrapper, which synchronises gradients; ``config`` and ``sigma`` are read from
    the network inside it."""
    out = model(x, sketch, eps=eps)
    net = unwrap(model)
    cfg = net.config
    sigma = net.sigma() if cfg.likelihood == "gaussian" else None
    recon = recon_nll(x, out["logits"], cfg.likelihood, sigma)
    prior = (out["prior_mu"], out["prior_logvar"]) if cfg.conditional else (None, None)
    kl_dims = kl_diag_normal(out["mu"], out["logvar"], *prior)
    kl = kl_dims.sum(1)
    return {**out, "recon": recon, "kl_dims": kl_dims, "kl": kl, "elbo": -(recon + kl)}


def monte_carlo_elbo(
    model, x: torch.Tensor, samples: int, generator: torch.Generator | None = None, sketch=None
):
    """ELBO estimated from ``samples`` draws of z without the closed-form KL:
    mean over z ~ q of log p(x|z) + log p(z) − log q(z|x). Used to check :func:`elbo_terms`."""
    model = unwrap(model)  # no gradients here: the network's own methods, not DDP's forward
    cfg = model.config
    mu, logvar = model.encode(x, sketch)
    p_mu, p_logvar = model.prior(sketch, n=x.shape[0])
    sigma = model.sigma() if cfg.likelihood == "gaussian" else None
    total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    for _ in range(samples):
        eps = torch.randn(mu.shape, generator=generator).to(mu)
        z = mu + eps * (0.5 * logvar).exp()
        log_px = -recon_nll(x, model.decode_logits(z, sketch), cfg.likelihood, sigma)
        total += (log_px + log_normal(z, p_mu, p_logvar) - log_normal(z, mu, logvar)).double()
    return total / samples


def training_loss(
    t: dict, objective: Objective, step: int, kl_weight: float = 1.0, prior_fit: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(loss, mean recon, mean KL) for a batch of :func:`elbo_terms`.

    With ``prior_fit`` (conditional models), the β/capacity term sees the prior detached and so
    shapes the encoder only, while the learned prior p(z|s) is fitted to the detached posterior by a
    plain KL. Without it, a capacity target below the current KL's reach pushes the prior *away*
    from the posterior, and samples from p(z|s) miss most of what q(z|x,s) encodes.
    """
    recon, kl = t["recon"].float().mean(), t["kl"].float().mean()
    if not (prior_fit and t.get("prior_mu") is not None):
        return recon + kl_weight * objective.kl_term(kl, step), recon, kl
    p_mu, p_logvar = t["prior_mu"], t["prior_logvar"]
    kl_enc = kl_diag_normal(t["mu"], t["logvar"], p_mu.detach(), p_logvar.detach()).sum(1).float().mean()
    kl_prior = kl_diag_normal(t["mu"].detach(), t["logvar"].detach(), p_mu, p_logvar).sum(1).float().mean()
    return recon + kl_weight * objective.kl_term(kl_enc, step) + kl_prior, recon, kl
