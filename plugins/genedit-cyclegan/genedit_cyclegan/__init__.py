"""genedit-cyclegan: CycleGAN (Zhu et al. 2017) unpaired image-to-image translation for genedit.

genedit calls the hooks in :mod:`genedit_cyclegan.plugin`; the card is in
:mod:`genedit_cyclegan.cards`, the networks in :mod:`genedit_cyclegan._arch.networks`, loading in
:mod:`genedit_cyclegan.build` and training in :mod:`genedit_cyclegan.training`.
"""

__version__ = "0.1.0"
