"""genedit hook implementations: the ``serve`` command, nothing else (no models of its own).

Imported by ``genedit list``: keep it light; FastAPI, uvicorn and torch load inside the command.
"""

from __future__ import annotations

from genedit_core.sdk import hookimpl


@hookimpl
def register_commands(app):
    """``genedit serve`` (see commands.py)."""
    from .commands import register

    register(app)
