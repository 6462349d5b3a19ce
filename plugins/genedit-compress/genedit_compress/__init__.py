"""genedit-compress: make any genedit conv model smaller or faster, measure what it cost, and ship it.

The plugin entry point is :mod:`genedit_compress.plugin` (torch-free). The work happens in modules
imported from hook bodies: :mod:`.exporting` (safetensors / ONNX / torch.export, each verified),
:mod:`.publish` (Hub-ready folders and ``push``), :mod:`.optimizing` (the method driver and its
report) with one module per method, and :mod:`.bench`.
"""

from __future__ import annotations

from .methods import EXPORT_FORMATS, OPTIMIZE_METHODS

__all__ = ["EXPORT_FORMATS", "OPTIMIZE_METHODS"]
