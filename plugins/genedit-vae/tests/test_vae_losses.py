"""The ELBO maths: closed-form KL against Monte Carlo, gradients, β and the capacity schedule."""

from __future__ import annotations

import math

import pytest
import torch
from genedit_vae.losses import Objective, capacity, elbo_terms, kl_diag_normal, log_normal, recon_nll
from vae_testutil import tiny_module


@pytest.mark.parametrize(
    "kind,overrides",
    [("vae", {}), ("vae", {"likelihood": "gaussian", "learn_sigma": True}), ("svae", {})],
)
def test_elbo_matches_a_direct_monte_carlo_estimate(kind, overrides):
    model = tiny_module(kind, **overrides)
    c = model.config
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, c.in_channels, c.image_size, c.image_size, generator=g)
    sketch = torch.rand(2, 1, c.image_size, c.image_size, generator=g) if c.conditional else None
    with torch.no_grad():
        # Give the posterior and the prior non-trivial means and variances.
        model.mu.bias.add_(0.7)
        model.logvar.bias.sub_(0.5)
        closed = elbo_terms(model, x, sketch, eps=torch.zeros(2, c.latent_dim))
        mu, logvar = closed["mu"], closed["logvar"]
        p_mu, p_logvar = closed["prior_mu"], closed["prior_logvar"]
        samples = 20000
        eps = torch.randn(samples, *mu.shape, generator=g)
        z = mu + eps * (0.5 * logvar).exp()  # S×N×D
        log_ratio = log_normal(z, p_mu, p_logvar) - log_normal(z, mu, logvar)  # log p(z) - log q(z|x)
        # Direct estimate of E_q[log p(x|z) + log p(z) - log q(z|x)] against the closed-form KL version,
        # both with the same draws of z, so only the KL part differs.
        sigma = model.sigma() if c.likelihood == "gaussian" else None
        zs = z[:200].reshape(-1, c.latent_dim)
        xs = x.repeat(200, 1, 1, 1)
        ss = sketch.repeat(200, 1, 1, 1) if sketch is not None else None
        log_px = -recon_nll(xs, model.decode_logits(zs, ss), c.likelihood, sigma).view(200, 2)
    direct = (log_px + log_ratio[:200]).mean(0)
    closed_form = log_px.mean(0) - closed["kl"]
    assert closed["kl"].min() > 0.1
    # KL alone over many samples: the MC mean of log q - log p converges to the analytic KL.
    kl_mc = -log_ratio.mean(0)
    se = log_ratio.std(0) / math.sqrt(samples)
    assert torch.all((kl_mc - closed["kl"]).abs() < 4 * se + 1e-4), (kl_mc, closed["kl"], se)
    se200 = log_ratio[:200].std(0) / math.sqrt(200)
    assert torch.all((direct - closed_form).abs() < 4 * se200 + 1e-4)
    assert torch.allclose(closed["elbo"], -(closed["recon"] + closed["kl"]))


def test_kl_between_gaussians_is_zero_only_when_they_match():
    mu, lv = torch.tensor([[0.3, -1.0]]), torch.tensor([[0.2, -0.4]])
    assert torch.allclose(kl_diag_normal(mu, lv, mu, lv), torch.zeros(1, 2), atol=1e-7)
    assert torch.allclose(
        kl_diag_normal(mu, lv), kl_diag_normal(mu, lv, torch.zeros(1, 2), torch.zeros(1, 2))
    )
    # KL(N(1, 1) || N(0, 1)) = 1/2
    assert kl_diag_normal(torch.ones(1, 1), torch.zeros(1, 1)).item() == pytest.approx(0.5)


def test_gaussian_nll_is_the_normal_log_density():
    x = torch.full((1, 1, 2, 2), 0.25)
    logits = torch.zeros(1, 1, 2, 2)  # mean 0.5
    sigma = torch.tensor([0.2])
    expected = 4 * (0.5 * (0.25 / 0.2) ** 2 + math.log(0.2) + 0.5 * math.log(2 * math.pi))
    assert recon_nll(x, logits, "gaussian", sigma).item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="unknown likelihood"):
        recon_nll(x, logits, "laplace")


def test_reparameterisation_gradients_reach_mean_and_variance():
    model = tiny_module("vae")
    model.train()
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    eps = torch.randn(3, model.config.latent_dim, generator=torch.Generator().manual_seed(1))
    t = elbo_terms(model, x, eps=eps)
    t["recon"].mean().backward()  # reconstruction only: gradients must come through z = mu + eps * sigma
    assert model.mu.weight.grad is not None and model.mu.weight.grad.abs().sum() > 0
    assert model.logvar.weight.grad is not None and model.logvar.weight.grad.abs().sum() > 0
    assert model.encoder[0].weight.grad.abs().sum() > 0
    model.zero_grad()
    elbo_terms(model, x, eps=torch.zeros_like(eps))["recon"].mean().backward()
    assert model.logvar.weight.grad.abs().sum() == 0  # with eps = 0 the variance has no path to the loss


def test_beta_multiplies_the_kl_exactly():
    kl = torch.tensor(3.7, requires_grad=True)
    for beta in (1.0, 4.0, 0.25):
        term = Objective("beta", beta=beta).kl_term(kl, step=0)
        (grad,) = torch.autograd.grad(term, kl)
        assert term.item() == pytest.approx(beta * 3.7)
        assert grad.item() == pytest.approx(beta)
    assert Objective("vae").kl_term(kl, 5).item() == pytest.approx(3.7)
    with pytest.raises(ValueError, match="objective"):
        Objective("gamma")


def test_capacity_schedule_values():
    assert capacity(0, 25.0, 100) == 0.0
    assert capacity(25, 25.0, 100) == pytest.approx(6.25)
    assert capacity(50, 25.0, 100) == pytest.approx(12.5)
    assert capacity(100, 25.0, 100) == pytest.approx(25.0)
    assert capacity(10_000, 25.0, 100) == pytest.approx(25.0)
    assert capacity(7, 25.0, 0) == 25.0
    obj = Objective("capacity", gamma=1000.0, c_max=25.0, c_steps=100)
    assert obj.kl_term(torch.tensor(10.0), 50).item() == pytest.approx(1000 * 2.5)
    assert obj.kl_term(torch.tensor(30.0), 500).item() == pytest.approx(1000 * 5.0)


def test_prior_fit_trains_the_prior_towards_the_posterior_only():
    """Capacity above the current KL: the shaped term would push p(z|s) away from q; prior_fit stops that."""
    from genedit_vae.losses import Objective, elbo_terms, training_loss
    from vae_testutil import tiny_module

    model = tiny_module("svae").train()
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    s = torch.rand(4, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    objective = Objective("capacity", gamma=20.0, c_max=1000.0, c_steps=1)  # target far above the KL
    prior_params = [p for n, p in model.named_parameters() if n.startswith("prior_")]  # the prior head only

    def prior_grads(prior_fit: bool) -> torch.Tensor:
        model.zero_grad()
        t = elbo_terms(model, x, s, eps=torch.zeros(4, model.config.latent_dim))
        loss, _, kl = training_loss(t, objective, step=10, prior_fit=prior_fit)
        loss.backward()
        return torch.cat([p.grad.flatten() for p in prior_params if p.grad is not None])

    shaped = prior_grads(False)
    fitted = prior_grads(True)
    # the plain-KL gradient w.r.t. the prior: what prior_fit must give, and the opposite of `shaped`
    model.zero_grad()
    t = elbo_terms(model, x, s, eps=torch.zeros(4, model.config.latent_dim))
    from genedit_vae.losses import kl_diag_normal

    kl_diag_normal(t["mu"].detach(), t["logvar"].detach(), t["prior_mu"], t["prior_logvar"]).sum(
        1
    ).mean().backward()
    plain = torch.cat([p.grad.flatten() for p in prior_params if p.grad is not None])
    torch.testing.assert_close(fitted, plain, rtol=1e-4, atol=1e-6)
    assert float(torch.dot(shaped, plain)) < 0  # without prior_fit the prior climbs the KL
