"""genedit-colorize: line art from photos (XDoG) and line art plus colour hints to colour (paints).

genedit calls the hooks in :mod:`genedit_colorize.plugin`; the cards are in
:mod:`genedit_colorize.cards`.
"""

__version__ = "0.1.0"
