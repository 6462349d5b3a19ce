"""Super-resolution models for genedit. The entry point is :mod:`genedit_sr.plugin`."""
