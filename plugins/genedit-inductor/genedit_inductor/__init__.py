"""genedit-inductor: the ``torch-compile`` runtime backend (``genedit run ... --backend torch-compile``).

The entry point is :mod:`genedit_inductor.backend`; it stays free of torch at import.
"""
