"""genedit-vae: VAE, beta-VAE and the sketch-conditioned SVAE as genedit models.

Importing this package stays torch-free; the networks live in :mod:`genedit_vae._arch` and the
task code in modules that only hook bodies import.
"""
