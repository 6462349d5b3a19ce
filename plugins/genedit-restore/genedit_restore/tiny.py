"""Tiny random networks per card, for genedit's conformance check (the ``tiny_weights`` hook).

The classical cards need no weights and get none.
"""

from __future__ import annotations

from typing import Any


def tiny_weights(card: Any) -> dict[str, Any] | None:
    return None
