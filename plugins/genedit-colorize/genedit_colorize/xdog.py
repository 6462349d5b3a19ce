"""XDoG line extraction for this plugin: the filter itself is the core's :func:`genedit_core.sdk.xdog`
(genedit-vae draws its sketch conditions with the same one). Kept as a module so that code importing
``genedit_colorize.xdog`` (scripts/cyclegan_lineart.py) finds the same function."""

from __future__ import annotations

from genedit_core.sdk import luminance, xdog

__all__ = ["luminance", "xdog"]
