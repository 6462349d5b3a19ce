"""What a user sees when something fails: one line, and a traceback only when asked for.

``genedit --debug ...`` (or ``GENEDIT_DEBUG=1``) prints the traceback of every failure before its
line, including the original exception a :class:`~genedit_core.errors.GeneditError` was made
from (a plugin's ``ValueError``, an OS error while writing). Without it, no traceback ever
reaches the user: an error genedit did not foresee is still one line that says so.
"""

from __future__ import annotations

import os
import traceback

from genedit_core.errors import GeneditError

from .console import err

DEBUG_ENV = "GENEDIT_DEBUG"
DEBUG_HINT = "run with --debug for the traceback"

_state = {"debug": False}


def debug_from_env() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def set_debug(on: bool) -> None:
    _state["debug"] = on


def is_debug() -> bool:
    return _state["debug"]


def debug_in_args(args: list[str]) -> bool:
    """Whether ``--debug`` comes before the command name, where the global options go.

    Read before the command line is parsed, so that a failure while plugins add their commands
    shows its traceback too.
    """
    for arg in args:
        if arg == "--debug":
            return True
        if not arg.startswith("-"):
            return False
    return False


def show_traceback(exc: BaseException) -> None:
    """With --debug, the full traceback (with its causes) on stderr; otherwise nothing."""
    if _state["debug"]:
        text = "".join(traceback.format_exception(exc)).rstrip()
        err.print(text, markup=False, emoji=False, highlight=False)


def describe(exc: BaseException) -> str:
    """The one line for a failure: a GeneditError's own message, else what it was and the hint."""
    if isinstance(exc, GeneditError):
        return str(exc)
    return unexpected(exc)


def unexpected(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    what = f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
    return f"unexpected {what} ({DEBUG_HINT})"
