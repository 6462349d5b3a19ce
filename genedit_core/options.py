"""Declared plugin options: what a method accepts beyond the command's own options, typed.

Options a command does not know (``genedit optimize ... --amount 0.5``, ``genedit generate biggan
--class 3``) reach the plugin in ``request.params``. Declaring each one as an :class:`Option` (name,
type, default, help, optional range) lets a front end list them in its help and refuse an unknown or
mistyped option before any work starts, with one line that names the valid ones, instead of a
plugin silently ignoring ``--ammount 0.5``. Methods declare theirs when they register; models
declare theirs per task in ``ModelCard.options`` (:func:`check_task_params` checks those, for the
CLI and the Python API alike). The plugin still reads the values with :mod:`genedit_core.params`.

Torch-free: declarations are imported by ``genedit --help``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .params import get_bool, get_choice, get_float, get_int

if TYPE_CHECKING:
    from .cards import ModelCard

_METAVAR: dict[type, str] = {str: "TEXT", int: "INT", float: "FLOAT", bool: "BOOL"}


@dataclass(frozen=True)
class Option:
    """One ``--key value`` option a plugin reads from ``request.params``.

    ``name`` is the key in ``request.params`` (``finetune_steps``; ``--finetune-steps`` on the
    command line). ``type`` is ``str``, ``int``, ``float`` or ``bool``; ``choices`` restricts a
    ``str`` option to fixed values. ``default`` is what the plugin uses when the option is absent
    (``None``: decided at run time, which ``help`` should explain). ``low`` / ``high`` bound an
    ``int`` or ``float`` option (inclusive), so an out-of-range value is refused before any work.
    ``image=True`` marks a ``str`` option whose value is the path of an image the plugin reads (an
    inpainting mask, a style image): the CLI takes a path, and a front end that must not let a
    request name a path on its machine (``genedit serve``) takes an upload for it instead.
    ``multiple=True`` makes the option repeatable (``--hint 1,2,#ff0000 --hint 3,4,#00ff00``): its
    value is a tuple of parsed values, in the order given, even when given once; an option without
    it given twice is refused rather than the last one silently winning.
    """

    name: str
    type: type = str
    default: Any = None
    help: str = ""
    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    image: bool = False
    multiple: bool = False

    def __post_init__(self) -> None:
        if self.type not in _METAVAR:
            raise TypeError(f"option '{self.name}': type must be str, int, float or bool, not {self.type!r}")
        if not self.name or not self.name.replace("_", "").isalnum() or self.name != self.name.lower():
            raise ValueError(f"option '{self.name}': use lower-case letters, digits and '_'")
        if self.choices and self.type is not str:
            raise TypeError(f"option '{self.name}': choices need type str")
        if self.image and self.type is not str:
            raise TypeError(f"option '{self.name}': image=True needs type str (the value is a path)")
        if self.multiple and (self.image or self.type is bool):
            raise TypeError(
                f"option '{self.name}': multiple=True is for str, int or float values, not images or flags"
            )
        if (self.low is not None or self.high is not None) and self.type not in (int, float):
            raise TypeError(f"option '{self.name}': low/high need type int or float")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"option '{self.name}': low {self.low} is above high {self.high}")

    @property
    def flag(self) -> str:
        """How the option is spelt on the command line: ``--finetune-steps``."""
        return "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str:
        return "|".join(self.choices) if self.choices else _METAVAR[self.type]

    def parse(self, raw: Any) -> Any:
        """The typed value of ``raw`` (a string from the command line); a bad one is a UsageError.

        A repeated option arrives as a list or tuple of raw values: a ``multiple`` option parses each
        (and wraps a single value in a tuple), any other option refuses it.
        """
        many = isinstance(raw, (list, tuple))
        if self.multiple:
            return tuple(self._parse_one(r) for r in (raw if many else (raw,)))
        if many:
            raise UsageError(f"{self.flag} is given {len(raw)} times; it takes one value")
        return self._parse_one(raw)

    def _parse_one(self, raw: Any) -> Any:
        params = {self.name: raw}
        if self.type is bool:
            return get_bool(params, self.name, False)
        if self.type in (int, float):
            value = get_int(params, self.name, 0) if self.type is int else get_float(params, self.name, 0.0)
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise UsageError(f"{self.flag} {raw}: expected a value {self._range()}")
            return value
        if self.choices:
            return get_choice(params, self.name, self.choices[0], self.choices)
        return str(raw)

    def _range(self) -> str:
        def show(b: float | None) -> str | None:
            return None if b is None else str(int(b)) if self.type is int else f"{b:g}"

        low, high = show(self.low), show(self.high)
        if low is not None and high is not None:
            return f"from {low} to {high}"
        return f"of at least {low}" if low is not None else f"of at most {high}"

    def describe(self) -> str:
        """One help line: ``--amount FLOAT  fraction of weights to zero (0 to 1; default 0.5)``."""
        notes = []
        if self.low is not None or self.high is not None:
            notes.append(self._range().removeprefix("from ").removeprefix("of "))
        if self.default is not None:
            notes.append(f"default {_show(self.default)}")
        if self.multiple:
            notes.append("repeatable")
        extra = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.flag} {self.metavar}  {self.help}{extra}".rstrip()

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view (``genedit info --json``)."""
        return {
            "name": self.name,
            "flag": self.flag,
            "type": self.type.__name__,
            "default": self.default,
            "choices": list(self.choices),
            "low": self.low,
            "high": self.high,
            "help": self.help,
        }


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
        if option is None and key.rstrip("_") in known:  # Python keywords: class_=3 is --class 3
            key = key.rstrip("_")
            option = known[key]
        if option is None:
            key = key.rstrip("_") or key
            flag = "--" + key.replace("_", "-")
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {known[close[0]].flag}?" if close else ""
            valid = ", ".join(o.flag for o in known.values()) if known else "none"
            raise UsageError(f"{what}: unknown option {flag}{hint} (valid options: {valid})")
        parsed[key] = option.parse(raw)
    return parsed


#: What ``genedit generate`` (and :meth:`LoadedModel.generate <genedit_core.model.LoadedModel.generate>`)
#: put in ``request.params`` for every generator: the two seeds of an interpolation and its number of
#: frames. The core plans the files from them (``frame000.png`` ..., the grid, the GIF) and checks
#: the plugin returned ``steps`` images, so they are the core's, not options a card declares.
GENERATE_KEYS: tuple[str, ...] = ("interpolate", "steps")

#: What ``genedit eval`` keeps for itself, whatever the task.
EVAL_RESERVED: tuple[str, ...] = ("model", "data", "weights", "scale", "device", "dtype", "json", "help")

#: Names a card may not declare for a task: the front ends' own options would take them first
#: (``genedit run``/``generate`` flags and :func:`genedit_core.run_batch` keywords).
RESERVED: dict[str, tuple[str, ...]] = {
    "generate": (
        *GENERATE_KEYS,
        "seeds",
        "out_dir",
        "grid",
        "gif",
        "weights",
        "device",
        "dtype",
        "overwrite",
        "skip_existing",
        "json",
        "help",
    ),
    "eval": EVAL_RESERVED,  # ModelCard.eval_options, whatever their task
    "*": (
        "model",
        "output",
        "out_dir",
        "scale",
        "weights",
        "device",
        "dtype",
        "backend",
        "tile",
        "tile_overlap",
        "ext",
        "recursive",
        "overwrite",
        "skip_existing",
        "max_pixels",
        "json",
        "quiet",
        "progress",
        "help",
    ),
}


def reserved_for(task: str) -> tuple[str, ...]:
    """The option names ``task``'s front ends keep for themselves (see :data:`RESERVED`)."""
    return RESERVED.get(task, RESERVED["*"])


def check_task_params(card: ModelCard, task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The options of ``params`` checked against what ``card`` declares for ``task``, parsed.

    ``None`` values count as absent (a Python caller's ``truncation=None``); for ``generate`` the
    core's own keys (:data:`GENERATE_KEYS`) pass through unchecked. Anything else the card does not
    declare, or a value of the wrong type or out of range, is a one-line :class:`UsageError` naming
    the valid options, raised before any model is loaded.
    """
    core = GENERATE_KEYS if task == "generate" else ()
    given = {k: v for k, v in params.items() if v is not None and k not in core}
    parsed = check_params(given, card.task_options(task), f"model '{card.name}' ({task})")
    return {**{k: v for k, v in params.items() if k in core and v is not None}, **parsed}


def check_eval_params(card: ModelCard, task: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Like :func:`check_task_params`, for the options ``card`` declares for ``genedit eval task``."""
    given = {k: v for k, v in params.items() if v is not None}
    return check_params(given, card.eval_task_options(task), f"model '{card.name}' (eval {task})")


def task_options_help(card: ModelCard, task: str) -> list[str]:
    """Help lines for ``task``'s options of ``card``: a title, then one line per option."""
    options = card.task_options(task)
    if not options:
        return [f"{card.name} takes no options of its own for {task}."]
    return [f"Options of {card.name} for {task}:"] + [f"  {o.describe()}" for o in options]
