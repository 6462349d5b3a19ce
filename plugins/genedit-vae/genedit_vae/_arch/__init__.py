"""The networks (private): a convolutional VAE and its sketch-conditioned variant."""

from .vae import ConvVAE, VAEConfig, infer_config

__all__ = ["ConvVAE", "VAEConfig", "infer_config"]
