"""genedit serve: an HTTP API and a web page over every installed genedit model.

The page and the API are generated from the registry (cards, tasks and their declared
:class:`~genedit_core.sdk.Option` s), so a new plugin appears in both without UI code.
"""

__version__ = "0.1.0"
