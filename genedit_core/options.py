"""Declared plugin options: what a method accepts beyond the command's own options, typed.

Options a command does not know (``genedit optimize ... --amount 0.5``) reach the plugin as strings
in ``request.params``. Declaring each one as an :class:`Option` (name, type, default, help) lets a
front end list them in its help and refuse an unknown or mistyped option before any work starts,
with one line that names the valid ones, instead of a plugin silently ignoring ``--ammount 0.5``.
The plugin still reads the values with :mod:`genedit_core.params`, which also checks ranges.

Torch-free: declarations are imported by ``genedit --help``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .params import get_bool, get_choice, get_float, get_int

_METAVAR: dict[type, str] = {str: "TEXT", int: "INT", float: "FLOAT", bool: "BOOL"}


@dataclass(frozen=True)
class Option:
    """One ``--key value`` option a plugin reads from ``request.params``.

    ``name`` is the key in ``request.params`` (``finetune_steps``; ``--finetune-steps`` on the
    command line). ``type`` is ``str``, ``int``, ``float`` or ``bool``; ``choices`` restricts a
    ``str`` option to fixed values. ``default`` is what the plugin uses when the option is absent
    (``None``: decided at run time, which ``help`` should explain).
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.type not in _METAVAR:
            raise TypeError(f"option '{self.name}': type must be str, int, float or bool, not {self.type!r}")
        if not self.name or not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"option '{self.name}': use lower-case letters, digits and '_'")
        if self.choices and self.type is not str:
            raise TypeError(f"option '{self.name}': choices need type str")

    @property
    def flag(self) -> str:
        """How the option is spelt on the command line: ``--finetune-steps``."""
        return "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str:
        return "|".join(self.choices) if self.choices else _METAVAR[self.type]

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (a string from the command line); a bad one is a UsageError."""
        params = {self.name: raw}
        if self.type is bool:
            return get_bool(params, self.name, False)
        if self.type is int:
            return get_int(params, self.name, 0)
        if self.type is float:
            return get_float(params, self.name, 0.0)
        if self.choices:
            return get_choice(params, self.name, self.choices[0], self.choices)
        return str(raw)

    def describe(self) -> str:
        """One help line: ``--amount FLOAT  fraction of weights to zero (default 0.5)``."""
        default = "" if self.default is None else f" (default {_show(self.default)})"
        return f"{self.flag} {self.metavar}  {self.help}{default}".rstrip()


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def check_params(params: Mapping[str, Any], options: Iterable[Option], what: str) -> dict[str, Any]:
    """Refuse a key of ``params`` that no option declares, or a value of the wrong type.

    ``what`` names the thing being configured (``--method prune-structured``). Returns the parsed
    values. The error is one line: the unknown option, the nearest valid one, then all valid ones.
    """
    known = {o.name: o for o in options}
    parsed: dict[str, Any] = {}
    for key, raw in params.items():
        option = known.get(key)
        if option is None:
            flag = "--" + key.replace("_", "-")
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {known[close[0]].flag}?" if close else ""
            valid = ", ".join(o.flag for o in known.values()) if known else "none"
            raise UsageError(f"{what}: unknown option {flag}{hint} (valid options: {valid})")
        parsed[key] = option.parse(raw)
    return parsed
