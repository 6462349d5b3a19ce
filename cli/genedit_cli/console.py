"""Shared output: one stdout and one stderr console, warnings and log lines routed by origin, progress.

genedit's own warnings (:class:`~genedit_core.api.GeneditWarning`) and its own log records (loggers
named ``genedit...``) are always shown, one line each. Third-party warnings and log lines (torch's
deprecations, onnxruntime's advice) are shown only with ``genedit --verbose`` (or
``GENEDIT_VERBOSE=1``), labelled with where they came from, so they are never mistaken for ours.
Errors logged by third-party code still show. Progress goes to stderr so stdout stays for results.

Everything printed is plain text: both consoles have rich markup turned off, so a path, an error, a
plugin's hint or a card's summary is shown exactly as it is (``[/x]`` cannot break the printer,
``pkg[onnx]`` keeps its brackets). Only genedit's own styling adds colour, through
:func:`styled` parts and the ``fail``/``warn``/``note`` labels, never by parsing the text. Lines
promised to be one line (errors, warnings, notes, ``input -> output``) go through :func:`one_line`,
which writes control characters as escapes, so a newline or ESC in a file name stays inert.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.text import Text

# markup=False: a string given to print() is shown as it is; styling comes only from Text and style=
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

VERBOSE_ENV = "GENEDIT_VERBOSE"
STATUS_DELAY_S = 0.5  # a wait shorter than this is not announced (no flicker for a Hub that answers)

_state = {"verbose": False}


def verbose_from_env() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def is_verbose() -> bool:
    return _state["verbose"]


def _is_own_warning(category: type[Warning]) -> bool:
    from genedit_core.api import GeneditWarning

    return issubclass(category, GeneditWarning)


def _origin(filename: str) -> str:
    """The top-level package a warning was attributed to: ``torch`` for ``.../site-packages/torch/x.py``."""
    parts = filename.replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            i = len(parts) - 1 - parts[::-1].index(marker)
            if i + 1 < len(parts):
                return parts[i + 1].removesuffix(".py")
    return os.path.basename(filename).removesuffix(".py") or "python"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if _is_own_warning(category):
        warn(str(message))
    elif _state["verbose"]:
        err.print(styled((f"{_origin(filename)} {category.__name__}:", "dim"), " ", one_line(message)))


class _RouteLogs(logging.Handler):
    """The root handler: genedit's records always, third-party ones with --verbose (or at ERROR)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            own = record.name.split(".", 1)[0].startswith("genedit")
            if not own and not _state["verbose"] and record.levelno < logging.ERROR:
                return
            message = one_line(record.getMessage())
            if own:
                if record.levelno >= logging.ERROR:
                    label = ("error:", "red")
                elif record.levelno >= logging.WARNING:
                    label = ("warning:", "yellow")
                else:
                    label = ("info:", "dim")
                err.print(styled(label, " ", message))
            else:
                err.print(styled((f"{record.name} {record.levelname.lower()}:", "dim"), " ", message))
        except Exception:  # a broken record must not break the command
            self.handleError(record)


_handler = _RouteLogs()


def setup_output(verbose: bool = False) -> None:
    """Route warnings, log records and Hub waits for one CLI invocation (idempotent)."""
    _state["verbose"] = verbose
    warnings.showwarning = _show_warning
    root = logging.getLogger()
    if _handler not in root.handlers:
        root.addHandler(_handler)  # also keeps logging.warning() from installing its own handler
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    _quiet_torch_logs(not verbose)
    from genedit_core.progress import set_activity_handler

    set_activity_handler(_status_line)


_TORCH_LOGS_MARK = "GENEDIT_SET_TORCH_LOGS"  # says that TORCH_LOGS is ours, not the user's


def _quiet_torch_logs(quiet: bool) -> None:
    """torch logs through handlers of its own, never reaching ours: TORCH_LOGS=-torch raises their
    threshold to ERROR. torch reads it at import, so it is set before; one the user set is left
    alone, and ours is taken back for a verbose run (children and later in-process calls inherit it).
    """
    if quiet:
        if "torch" not in sys.modules and "TORCH_LOGS" not in os.environ:
            os.environ["TORCH_LOGS"] = "-torch"
            os.environ[_TORCH_LOGS_MARK] = "1"
    elif os.environ.pop(_TORCH_LOGS_MARK, None):
        os.environ.pop("TORCH_LOGS", None)


def show_warnings() -> None:
    """Kept for callers of the old name: :func:`setup_output` with the current verbosity."""
    setup_output(_state["verbose"])


# C0 controls but tab, DEL and C1 controls: a newline in a file name must not start a forged
# "error:" line, and an escape sequence must not reach the terminal.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c != 0x09}
_CONTROLS.update({0x0A: "\\n", 0x0D: "\\r"})


def one_line(text: object) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): one line, inert.

    Messages name files, and a file name may hold any character but ``/`` and NUL; every line genedit
    promises to be one line (errors, warnings, notes, ``input -> output``) goes through here.
    """
    return str(text).translate(_CONTROLS)


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line from plain parts: a string is shown as it is, a ``(text, style)`` pair in that style.

    The only way genedit adds colour to a message, so text from users, files and plugins is never
    read as markup.
    """
    return Text.assemble(*parts)


def fail(message: str) -> None:
    """``error: MESSAGE`` on stderr; the message is plain text, shown as it is."""
    err.print(styled(("error:", "red"), " ", one_line(message)))


def warn(message: str) -> None:
    """``warning: MESSAGE`` on stderr; the message is plain text, shown as it is."""
    err.print(styled(("warning:", "yellow"), " ", one_line(message)))


def note(message: str) -> None:
    """``note: MESSAGE`` on stderr, for things worth knowing that are not problems."""
    err.print(f"note: {one_line(message)}")


# --- waits and long jobs -------------------------------------------------------------------------------


@contextmanager
def _status_line(message: str) -> Iterator[None]:
    """Show ``message`` on stderr while a wait lasts longer than :data:`STATUS_DELAY_S`.

    On a terminal it is a spinner that disappears when the wait is over; elsewhere (logs, pipes)
    one plain line.
    """
    lock = threading.Lock()
    shown: dict[str, Any] = {"over": False, "status": None}

    def show() -> None:
        with lock:
            if shown["over"]:
                return
            if err.is_terminal:
                shown["status"] = err.status(message)
                shown["status"].start()
            else:
                err.print(f"{message}…")

    timer = threading.Timer(STATUS_DELAY_S, show)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        with lock:
            shown["over"] = True
            if shown["status"] is not None:
                shown["status"].stop()


class PhaseProgress:
    """Show ``progress(phase, done, total)`` calls (see :mod:`genedit_core.progress`) on stderr.

    On a terminal: one line per phase, with a spinner, a bar and an ETA when the phase has a total,
    and the elapsed time when it is over. Elsewhere: a plain line when a phase starts and at each
    quarter of a counted phase, so a log shows where a long job is. ``enabled=False`` shows nothing.
    """

    def __init__(self, title: str, enabled: bool = True):
        self.title, self.enabled = title, enabled
        self.phase: str | None = None
        self._live: Any = None
        self._task: Any = None
        self._quarter = 0

    def __enter__(self) -> PhaseProgress:
        if self.enabled and err.is_terminal:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._live = Progress(
                SpinnerColumn(finished_text=Text("✓", style="green")),
                TextColumn("{task.description}", markup=False),  # a phase name is a plugin's text
                BarColumn(bar_width=24),
                TextColumn("{task.fields[count]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=err,
                transient=False,
            )
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        if self._live is not None:
            self._live.stop()
            self._live = None

    def __call__(self, phase: str, done: int | None = None, total: int | None = None) -> None:
        if not self.enabled:
            return
        if phase != self.phase:
            self._finish()
            self.phase, self._quarter = phase, 0
            if self._live is not None:
                self._task = self._live.add_task(phase, total=total, completed=done or 0, count="", eta="")
            else:
                err.print(f"{self.title}: {phase}" + (f" ({total})" if total else ""))
        if self._live is not None and self._task is not None:
            count = f"{done}/{total}" if done is not None and total else ""
            self._live.update(self._task, completed=done or 0, total=total, count=count)
            task = next(t for t in self._live.tasks if t.id == self._task)
            left = task.time_remaining if total and done and done < total else None
            self._live.update(self._task, eta=f"eta {_clock(left)}" if left is not None else "")
        elif done is not None and total:
            quarter = min(4, 4 * done // total)
            if quarter > self._quarter:
                self._quarter = quarter
                err.print(f"{self.title}: {phase} {done}/{total}")

    def _finish(self) -> None:
        if self._live is not None and self._task is not None:
            task = next(t for t in self._live.tasks if t.id == self._task)
            total = task.total or 1
            self._live.update(self._task, total=total, completed=total, eta="")
        self._task, self.phase = None, None


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
