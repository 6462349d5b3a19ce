"""genedit-restore, a genedit plugin.

A tiny learnable filter for 'denoise': the identity plus a residual conv net.

genedit calls the hooks in :mod:`genedit_restore.plugin`. The card is in
:mod:`genedit_restore.cards`, the network in :mod:`genedit_restore.network`.
"""

__version__ = "0.1.0"
