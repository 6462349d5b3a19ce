"""GAN models for genedit (task ``generate``). The entry point is :mod:`genedit_gan.plugin`."""
