"""A convolutional VAE with a flat Gaussian latent, optionally conditioned on a sketch.

One class serves the three models of the plugin:

* ``vae`` / ``beta-vae``: encoder q(z|x), standard normal prior, decoder p(x|z). The two differ only
  in the training objective (see :mod:`genedit_vae.losses`), not in the network.
* ``svae``: a conditional VAE (Sohn et al. 2015 style). The encoder sees the image and its sketch,
  q(z|x,s); a small prior network gives p(z|s); the decoder p(x|z,s) receives sketch features at
  every resolution (skip connections from a sketch encoder), so z only has to carry what the
  sketch does not say: colour, shading, texture.

The latent is a flat vector so that single dimensions can be traversed and probed. Every
hyperparameter can be read back from a state dict (:func:`infer_config`), so a bare
``model.safetensors`` loads without its ``config.json``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch
from torch import nn

LIKELIHOODS = ("bce", "gaussian")
# Log-variances are kept in a range where exp() can neither overflow nor vanish; a diverging step
# then saturates instead of turning the whole run into NaN.
LOGVAR_MIN, LOGVAR_MAX = -14.0, 8.0


@dataclass(frozen=True)
class VAEConfig:
    in_channels: int = 1
    image_size: int = 32
    latent_dim: int = 16
    width: int = 32
    depth: int = 3
    max_width: int = 256
    hidden: int = 256
    cond_channels: int = 0
    likelihood: str = "bce"
    learn_sigma: bool = False
    sigma: float = 0.1

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got '{self.likelihood}'")
        if self.image_size % (2**self.depth):
            raise ValueError(f"image_size {self.image_size} must be a multiple of 2**depth = {2**self.depth}")
        if self.image_size // (2**self.depth) < 1:
            raise ValueError(f"depth {self.depth} is too deep for image_size {self.image_size}")

    @property
    def widths(self) -> list[int]:
        return [min(self.width * 2**i, self.max_width) for i in range(self.depth)]

    @property
    def bottom(self) -> int:
        return self.image_size // 2**self.depth

    @property
    def conditional(self) -> bool:
        return self.cond_channels > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VAEConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _down(channels_in: int, widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    prev = channels_in
    for w in widths:
        layers += [nn.Conv2d(prev, w, 4, 2, 1), nn.SiLU()]
        prev = w
    return nn.Sequential(*layers)


class ConvVAE(nn.Module):
    """Encoder, prior and decoder of a (conditional) VAE; the losses live outside the module."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = c = config
        widths = c.widths
        feat = widths[-1] * c.bottom * c.bottom
        self.encoder = _down(c.in_channels + c.cond_channels, widths)
        self.enc_fc = nn.Sequential(nn.Linear(feat, c.hidden), nn.SiLU())
        self.mu = nn.Linear(c.hidden, c.latent_dim)
        self.logvar = nn.Linear(c.hidden, c.latent_dim)
        if c.conditional:
            self.cond_encoder = _down(c.cond_channels, widths)
            self.prior_fc = nn.Sequential(nn.Linear(feat, c.hidden), nn.SiLU())
            self.prior_mu = nn.Linear(c.hidden, c.latent_dim)
            self.prior_logvar = nn.Linear(c.hidden, c.latent_dim)
        self.dec_fc = nn.Sequential(
            nn.Linear(c.latent_dim, c.hidden), nn.SiLU(), nn.Linear(c.hidden, feat), nn.SiLU()
        )
        skip = widths if c.conditional else [0] * c.depth
        ups: list[nn.Module] = []
        for i in reversed(range(c.depth)):
            out = widths[i - 1] if i > 0 else c.width
            ups.append(nn.Sequential(nn.ConvTranspose2d(widths[i] + skip[i], out, 4, 2, 1), nn.SiLU()))
        self.decoder = nn.ModuleList(ups)
        self.out = nn.Conv2d(c.width + c.cond_channels, c.in_channels, 3, 1, 1)
        if c.learn_sigma:
            self.log_sigma = nn.Parameter(
                torch.full((c.in_channels, c.image_size, c.image_size), math.log(c.sigma))
            )

    # -- pieces -----------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor, channels: int, what: str) -> None:
        s = self.config.image_size
        if x.ndim != 4 or x.shape[1] != channels or x.shape[-2:] != (s, s):
            raise ValueError(f"expected {what} of shape N×{channels}×{s}×{s}, got {tuple(x.shape)}")

    def _cond_features(self, s: torch.Tensor) -> list[torch.Tensor]:
        self._check(s, self.config.cond_channels, "a sketch")
        feats = []
        h = s
        for layer in self.cond_encoder:
            h = layer(h)
            if isinstance(layer, nn.SiLU):
                feats.append(h)
        return feats

    def encode(
        self, x: torch.Tensor, sketch: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior q(z|x[,s]) as (mean, log-variance)."""
        self._check(x, self.config.in_channels, "an image")
        if self.config.conditional:
            if sketch is None:
                raise ValueError("this VAE is sketch-conditioned: pass the sketch to encode()")
            x = torch.cat([x, sketch], dim=1)
        h = self.enc_fc(self.encoder(x).flatten(1))
        return self.mu(h), self.logvar(h).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def prior(self, sketch: torch.Tensor | None = None, n: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """Prior p(z[|s]) as (mean, log-variance): N(0, I) unless the model is conditional."""
        if not self.config.conditional:
            ref = self.mu.weight
            zeros = torch.zeros(n, self.config.latent_dim, device=ref.device, dtype=ref.dtype)
            return zeros, zeros
        if sketch is None:
            raise ValueError("this VAE is sketch-conditioned: its prior needs the sketch")
        h = self.prior_fc(self._cond_features(sketch)[-1].flatten(1))
        return self.prior_mu(h), self.prior_logvar(h).clamp(LOGVAR_MIN, LOGVAR_MAX)

    def decode_logits(self, z: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder output before the sigmoid (Bernoulli logits, or the Gaussian mean's pre-activation)."""
        c = self.config
        h = self.dec_fc(z).view(z.shape[0], c.widths[-1], c.bottom, c.bottom)
        feats = self._cond_features(sketch) if c.conditional else None
        for k, block in enumerate(self.decoder):
            if feats is not None:
                h = torch.cat([h, feats[c.depth - 1 - k]], dim=1)
            h = block(h)
        if c.conditional:
            h = torch.cat([h, sketch], dim=1)
        return self.out(h)

    def decode(self, z: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
        """Mean image in 0–1."""
        return torch.sigmoid(self.decode_logits(z, sketch))

    def sigma(self) -> torch.Tensor:
        """Per-pixel standard deviation of the Gaussian likelihood (a constant unless learned)."""
        if self.config.learn_sigma:
            return self.log_sigma.exp()
        return torch.full((1,), self.config.sigma, device=self.mu.weight.device)

    def forward(
        self, x: torch.Tensor, sketch: torch.Tensor | None = None, eps: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """One pass with the reparameterisation trick; ``eps`` is the standard normal noise (zeros = mean)."""
        mu, logvar = self.encode(x, sketch)
        if eps is None:
            eps = torch.randn_like(mu)
        z = mu + eps * (0.5 * logvar).exp()
        p_mu, p_logvar = self.prior(sketch, n=x.shape[0])
        return {
            "mu": mu,
            "logvar": logvar,
            "z": z,
            "logits": self.decode_logits(z, sketch),
            "prior_mu": p_mu,
            "prior_logvar": p_logvar,
        }


def infer_config(state: dict[str, torch.Tensor], hints: dict[str, Any] | None = None) -> VAEConfig:
    """Read the architecture back from tensor shapes; ``hints`` supply what shapes cannot say
    (likelihood kind, fixed sigma)."""
    hints = dict(hints or {})
    try:
        convs = sorted(
            (int(k.split(".")[1]), v)
            for k, v in state.items()
            if k.startswith("encoder.") and k.endswith(".weight")
        )
        widths = [int(v.shape[0]) for _, v in convs]
        depth = len(widths)
        cond = int(state["cond_encoder.0.weight"].shape[1]) if "cond_encoder.0.weight" in state else 0
        in_channels = int(convs[0][1].shape[1]) - cond
        hidden, feat = (int(n) for n in state["enc_fc.0.weight"].shape)
        latent = int(state["mu.weight"].shape[0])
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"not a genedit VAE state dict ({type(exc).__name__}: {exc})") from None
    bottom = math.isqrt(feat // widths[-1])
    learn_sigma = "log_sigma" in state
    likelihood = hints.get("likelihood", "gaussian" if learn_sigma else "bce")
    return VAEConfig(
        in_channels=in_channels,
        image_size=bottom * 2**depth,
        latent_dim=latent,
        width=widths[0],
        depth=depth,
        max_width=widths[-1],
        hidden=hidden,
        cond_channels=cond,
        likelihood=likelihood,
        learn_sigma=learn_sigma,
        sigma=float(hints.get("sigma", 0.1)),
    )
