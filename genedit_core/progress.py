"""Progress without printing: library code says what it is doing, the front end decides how to show it.

Two channels, because long jobs and short waits reach the user differently:

* Long jobs (``optimize``, ``bench``, fine-tuning) take a **progress callback** in their request or
  context, called as ``progress(phase, done, total)``. A call with a new ``phase`` starts that phase
  (the previous one is over); ``done``/``total`` move its counter, ``total=None`` when the end is not
  known. The default, :func:`silent`, shows nothing, so library callers pay nothing.
* A wait deep inside the core (contacting the Hub while resolving weights) cannot take a parameter
  through every caller of :func:`genedit_core.load`; it runs inside :func:`activity`, which hands the
  message to whatever the front end installed with :func:`set_activity_handler`.

A third, narrower one: an edit hook whose one call runs long (Gatys style transfer optimises
the image for minutes) reports its own steps through ``EditRequest.progress(done, total, values)``
(:class:`StepProgress`), with named numbers (its losses) to show; they move the same per-image bar
or job fraction that the tiler's tiles move (see :func:`step_progress`).

The core never prints; with nothing installed every channel is silent. Importing this module
costs nothing (no torch).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


class ProgressFn(Protocol):
    """``progress(phase, done=None, total=None)``: start ``phase`` or move its counter."""

    def __call__(self, phase: str, done: int | None = None, total: int | None = None) -> None: ...


def silent(phase: str, done: int | None = None, total: int | None = None) -> None:
    """The default progress callback: report nothing."""


class StepProgress(Protocol):
    """``progress(done, total, values=None)``: an edit hook's own steps through one image, with
    named numbers (an optimisation's losses, say) that a front end may show beside the bar."""

    def __call__(self, done: int, total: int, values: Mapping[str, float] | None = None) -> None: ...


def silent_steps(done: int, total: int, values: Mapping[str, float] | None = None) -> None:
    """The default step reporter: report nothing."""


def step_progress(on_image: Callable[..., None] | None) -> StepProgress:
    """An edit hook's step reporter over a front end's per-image callback.

    ``on_image`` is what ``BatchProgress.image`` returned, ``on_tile(done, total)``, or ``None``.
    Steps move the same bar (or job fraction) that tiles do. The values go along, as
    ``values=...``, only to a callback that declares a ``values`` parameter (or ``**kwargs``), so a
    front end written for tiles alone keeps working unchanged.
    """
    if on_image is None:
        return silent_steps
    try:
        params = inspect.signature(on_image).parameters.values()
        takes_values = any(p.name == "values" or p.kind is p.VAR_KEYWORD for p in params)
    except (TypeError, ValueError):  # a builtin or C callable without a signature
        takes_values = False

    def report(done: int, total: int, values: Mapping[str, float] | None = None) -> None:
        if takes_values and values is not None:
            on_image(done, total, values=values)
        else:
            on_image(done, total)

    return report


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
