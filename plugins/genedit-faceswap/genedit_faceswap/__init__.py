"""genedit-faceswap, a genedit plugin.

Face swapping in deepfakes/faceswap's three stages: extract (MTCNN or a cascade, Umeyama
alignment), train (a shared encoder, one decoder per identity) and convert (swap, colour match,
feathered or Poisson blending), for images and videos; every swapped output is marked synthetic.

genedit calls the hooks in :mod:`genedit_faceswap.plugin`; the cards are in
:mod:`genedit_faceswap.cards`, the commands in :mod:`genedit_faceswap.commands`.
"""

__version__ = "0.1.0"
