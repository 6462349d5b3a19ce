"""What a plugin's own commands may use from the CLI: the one public module of ``genedit_cli``.

A plugin adds commands with the ``register_commands(app)`` hook (see docs/plugins.md). Its command
bodies may import this module, and nothing else from ``genedit_cli``: the other modules are the
CLI's internals and change without notice. Everything here is named in ``__all__``.

Why in the CLI and not in the core: these helpers are about the terminal (the stdout/stderr
consoles the CLI sets up, progress drawn on stderr, Typer's settings for extra ``--key value``
options), so they belong to the front end, and the core stays usable without a terminal or Typer.
The CLI ships in the ``genedit`` distribution every plugin depends on, so importing it costs a
plugin nothing. The reverse is forbidden: the CLI imports no plugin (a test walks its imports).

Keep command modules light: ``genedit --help`` imports them, so torch and networks are imported
inside the command bodies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from genedit_core.options import Option, check_params

from .console import PhaseProgress, err, fail, out
from .params import parse_extras

__all__ = [
    "EXTRA_ARGS",
    "Option",
    "PhaseProgress",
    "err",
    "extra_options",
    "fail",
    "options_help",
    "out",
    "parse_extras",
]

EXTRA_ARGS: dict[str, Any] = {"allow_extra_args": True, "ignore_unknown_options": True}
"""``@app.command(context_settings=EXTRA_ARGS)``: the command receives unknown ``--key value``
options in ``ctx.args`` instead of failing on them; read them with :func:`extra_options`."""


def extra_options(args: list[str], options: Iterable[Option] | None, what: str) -> dict[str, str]:
    """The ``--key value`` options in ``args`` (``ctx.args``), checked against ``options``.

    An option nobody declared, or a value of the wrong type, is a one-line usage error (exit 2)
    naming the valid options, raised before the command does any work. ``options=None`` skips the
    check. Values stay strings, as plugins receive them in ``request.params``.
    """
    params = parse_extras(list(args))
    if options is not None:
        check_params(params, options, what)
    return params


def options_help(groups: Mapping[str, Iterable[Option]], title: str) -> str:
    """Help text (a command's ``epilog``) listing ``--key value`` options by group, one per line.

    Options that every group declares alike are listed once, first, under "every one".
    """
    declared = {group: list(opts) for group, opts in groups.items()}
    if not declared:
        return ""
    shared = [o for o in next(iter(declared.values())) if all(o in opts for opts in declared.values())]
    lines = [title]
    if shared and len(declared) > 1:
        lines += ["", "every one:"] + [f"  {o.describe()}" for o in shared]
    for group, opts in declared.items():
        own = [o for o in opts if len(declared) == 1 or o not in shared]
        lines += ["", f"{group}:"] + ([f"  {o.describe()}" for o in own] or ["  (no options of its own)"])
    from rich.markup import escape  # commands' help is rendered as rich markup

    return "\n".join(escape(line) for line in lines)
