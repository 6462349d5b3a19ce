"""genedit-style: style transfer for genedit (Gatys et al. optimisation on a VGG feature network).

genedit calls the hooks in :mod:`genedit_style.plugin`; the cards are in
:mod:`genedit_style.cards`, their typed options in :mod:`genedit_style.options`, the VGG feature
networks and their checkpoint layouts in :mod:`genedit_style.features`, and the optimisation in
:mod:`genedit_style.gatys`.
"""

__version__ = "0.1.0"
