"""Progress without printing: library code says what it is doing, the front end decides how to show it.

Two channels, because long jobs and short waits reach the user differently:

* Long jobs (``optimize``, ``bench``, fine-tuning) take a **progress callback** in their request or
  context, called as ``progress(phase, done, total)``. A call with a new ``phase`` starts that phase
  (the previous one is over); ``done``/``total`` move its counter, ``total=None`` when the end is not
  known. The default, :func:`silent`, shows nothing, so library callers pay nothing.
* A wait deep inside the core (contacting the Hub while resolving weights) cannot take a parameter
  through every caller of :func:`genedit_core.load`; it runs inside :func:`activity`, which hands the
  message to whatever the front end installed with :func:`set_activity_handler`.

The core never prints; with nothing installed both channels are silent. Importing this module
costs nothing (no torch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class ProgressFn(Protocol):
    """``progress(phase, done=None, total=None)``: start ``phase`` or move its counter."""

    def __call__(self, phase: str, done: int | None = None, total: int | None = None) -> None: ...


def silent(phase: str, done: int | None = None, total: int | None = None) -> None:
    """The default progress callback: report nothing."""


ActivityHandler = Callable[[str], AbstractContextManager[object]]

_activity_handler: ActivityHandler | None = None


def set_activity_handler(handler: ActivityHandler | None) -> ActivityHandler | None:
    """Install how :func:`activity` messages are shown (``None``: not at all); returns the previous one.

    A process-wide setting rather than a context variable, so that a wait in a worker thread is
    shown too.
    """
    global _activity_handler
    previous, _activity_handler = _activity_handler, handler
    return previous


@contextmanager
def activity(message: str) -> Iterator[None]:
    """Mark a wait that may take a while (``with activity("contacting the Hub ..."): ...``)."""
    handler = _activity_handler
    if handler is None:
        yield
        return
    with handler(message):
        yield
