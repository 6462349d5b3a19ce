"""Shared output helpers: one stderr console, warnings shown as one line each."""

from __future__ import annotations

import warnings

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def show_warnings() -> None:
    def _show(message, category, filename, lineno, file=None, line=None):
        err.print(f"[yellow]warning:[/] {message}", markup=True)

    warnings.showwarning = _show


def fail(message: str) -> None:
    err.print(f"[red]error:[/] {message}", markup=True)
