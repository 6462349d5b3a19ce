"""genedit-openvino: the ``openvino`` runtime backend (``genedit run ... --backend openvino``).

The entry point is :mod:`genedit_openvino.backend`; it stays free of torch and openvino at import.
"""
