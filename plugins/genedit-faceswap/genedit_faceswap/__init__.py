"""genedit-faceswap, a genedit plugin.

A tiny learnable filter for 'extract': the identity plus a residual conv net.

genedit calls the hooks in :mod:`genedit_faceswap.plugin`. The card is in
:mod:`genedit_faceswap.cards`, the network in :mod:`genedit_faceswap.network`.
"""

__version__ = "0.1.0"
