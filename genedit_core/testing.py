"""Helpers for testing plugins: run code with exactly the plugins you name installed.

Installed entry-point plugins are ignored inside the block, so a test sees only what it set up,
and the process-wide plugin set is restored afterwards even if the test fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .plugins import GeneditPlugins, reset_plugins


@contextmanager
def plugins_installed(**plugins: Any) -> Iterator[GeneditPlugins]:
    """``with plugins_installed(sr=genedit_sr.plugin, mine=MyPlugin()) as p: ...``"""
    p = GeneditPlugins()
    for name, obj in plugins.items():
        info = p.add(obj, name)
        if info.error is not None:
            raise AssertionError(f"plugin '{name}' failed to register: {info.error}")
    reset_plugins(p)
    try:
        yield p
    finally:
        reset_plugins(None)
