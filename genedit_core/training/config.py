"""Training configuration: core defaults < task defaults < config file < ``--set key=value``.

The resolved config is checked against a schema before training starts and saved in the run
directory, so a run can always be reproduced or resumed exactly as it was started. The schema is
not written per plugin: every key a default sets is allowed, with the type of its default; the core
declares the ranges of the ``train`` section, and a task may declare more (:class:`Field` in
``TrainTask.config_fields``) for keys it reads without a default, or to bound its own.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import inspect
import json
import math
import reprlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._limits import read_capped
from ..errors import GeneditError, UsageError

DEFAULTS: dict[str, Any] = {
    "train": {
        "steps": 1000,
        "batch_size": 16,
        "lr": 2e-4,
        "seed": 0,
        "deterministic": False,
        "grad_clip": {"type": "none", "max": 0.0},
        "accumulate": 1,
        "bf16": False,
        "channels_last": False,
        "log_every": 10,
        "ckpt_every": 500,
        "sample_every": 500,
        "eval_every": 0,
        "keep_checkpoints": 3,
        "schedule": {"type": "constant", "warmup": 0, "milestones": [], "gamma": 0.5},
        "num_workers": 0,
        "tensorboard": False,
        "device": "auto",
        "max_minutes": 0,
    },
    "data": {},
    "model": {},
}

# Config files are a few kilobytes; anything much bigger is not one (or is an attack on the parser).
MAX_CONFIG_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class Field:
    """What one config key accepts.

    ``kind`` is ``bool``, ``int``, ``float`` (ints are accepted), ``str``, ``list`` (of ``item``
    values when set), ``mapping`` (a free-form section) or ``any``. ``optional`` also accepts
    ``null``; ``ge``/``gt``/``le``/``lt`` bound numbers; ``choices`` lists the allowed values.
    """

    kind: str
    optional: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    item: str | None = None

    @classmethod
    def like(cls, value: Any) -> Field:
        """The field a default value implies: its type and nothing more (``None`` accepts anything)."""
        if value is None:
            return cls("any")
        if isinstance(value, bool):
            return cls("bool")
        if isinstance(value, int):
            return cls("int")
        if isinstance(value, float):
            return cls("float")
        if isinstance(value, str):
            return cls("str")
        if isinstance(value, (list, tuple)):
            kinds = {cls.like(v).kind for v in value}
            if kinds == {"int", "float"}:
                kinds = {"float"}
            item = next(iter(kinds)) if len(kinds) == 1 else None
            return cls("list", item=item if item in ("bool", "int", "float", "str") else None)
        if isinstance(value, Mapping):
            return cls("mapping")
        return cls("any")


# The trainer's own keys, with the ranges that keep the loop meaningful (a 0 in a modulo, a
# negative batch), plus keys it reads without a default.
CORE_FIELDS: dict[str, Field] = {
    "train.steps": Field("int", ge=1),
    "train.batch_size": Field("int", ge=1),
    "train.lr": Field("float", ge=0),
    "train.seed": Field("int", ge=0, le=2**32 - 1),
    "train.deterministic": Field("bool"),
    "train.grad_clip.type": Field("str", choices=("none", "norm", "value")),
    "train.grad_clip.max": Field("float", ge=0),
    "train.accumulate": Field("int", ge=1),
    "train.bf16": Field("bool"),
    "train.channels_last": Field("bool"),
    "train.log_every": Field("int", ge=1),
    "train.ckpt_every": Field("int", ge=1),
    "train.sample_every": Field("int", ge=0),
    "train.eval_every": Field("int", ge=0),
    "train.keep_checkpoints": Field("int", ge=0),
    "train.schedule.type": Field("str", choices=("constant", "cosine", "step", "linear")),
    "train.schedule.warmup": Field("int", ge=0),
    "train.schedule.milestones": Field("list", item="int"),
    "train.schedule.gamma": Field("float", gt=0),
    "train.schedule.decay_start": Field("int", ge=0),
    "train.num_workers": Field("int", ge=0),
    "train.tensorboard": Field("bool"),
    "train.device": Field("str"),
    "train.max_minutes": Field("float", ge=0),
    "data.source": Field("str", optional=True),
}

# What --resume may change: how long and how often, where, and how fast; not what is trained.
RESUMABLE_KEYS: tuple[str, ...] = (
    "train.steps",
    "train.max_minutes",
    "train.log_every",
    "train.ckpt_every",
    "train.sample_every",
    "train.eval_every",
    "train.keep_checkpoints",
    "train.num_workers",
    "train.tensorboard",
    "train.device",
    "train.bf16",
    "train.channels_last",
    "train.deterministic",
    "data.source",
)


def fields_from(source: Any, section: str) -> dict[str, Field]:
    """``{section.name: Field}`` for each default of a dataclass or of a callable's parameters.

    Lets a task allow exactly the hyperparameters its network constructor or config dataclass
    takes, typed by their defaults, without listing them again.
    """
    if dataclasses.is_dataclass(source):
        items = [
            (f.name, f.default) for f in dataclasses.fields(source) if f.default is not dataclasses.MISSING
        ]
    else:
        items = [
            (name, p.default)
            for name, p in inspect.signature(source).parameters.items()
            if p.default is not inspect.Parameter.empty
        ]
    return {f"{section}.{name}": Field.like(default) for name, default in items}


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _show(value: Any, limit: int = 40) -> str:
    """A value as it would be typed, on one line and short (bounded even for a huge structure)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    short = reprlib.Repr()
    short.maxstring = short.maxother = limit
    short.maxlist = short.maxtuple = short.maxdict = 4
    short.maxlevel = 2
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# A parsed config holds a few hundred values; YAML aliases can make a small file expand to billions.
MAX_CONFIG_VALUES = 100_000


def _check_size(data: Any, where: str, error: type[GeneditError]) -> None:
    """Refuse a structure with more than :data:`MAX_CONFIG_VALUES` values, counting each alias
    every time it is reached (as every later walk would), stopping as soon as the limit is hit."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise error(f"{where}: more than {MAX_CONFIG_VALUES} values (YAML aliases?), not a config")
        if isinstance(node, Mapping):
            stack.extend(node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend(node)


def _check_sections(base: Mapping[str, Any], data: Mapping[str, Any], where: str, prefix: str = "") -> None:
    """A section of the defaults must stay a section: ``train: 5`` would break every reader."""
    for key, value in data.items():
        path = f"{prefix}{key}"
        known = base.get(key) if isinstance(key, str) else None
        if isinstance(known, Mapping):
            if not isinstance(value, Mapping):
                example = f"{path}.{next(iter(known))}" if known else f"{path}.KEY"
                raise UsageError(
                    f"{where}{path} is a section; set its keys (e.g. {example}), not {_show(value)}"
                )
            _check_sections(known, value, where, f"{path}.")


def _read_text(path: Path, what: str, error: type[GeneditError]) -> str:
    if not path.exists():
        raise error(f"{path}: {what} not found")
    if not path.is_file():
        raise error(f"{path}: {what} is not a regular file")
    too_large = f"larger than {MAX_CONFIG_BYTES >> 20} MiB, not a {what}"
    raw = read_capped(path, MAX_CONFIG_BYTES, error, cannot=f"cannot read {what}", too_large=too_large)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise error(f"{path}: binary data, not a {what} (expected UTF-8 text)")
    return text


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.suffix not in (".toml", ".yaml", ".yml", ".json"):
        raise UsageError(f"{path}: config must be .toml, .yaml/.yml or .json")
    text = _read_text(path, "config file", UsageError)
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
    except Exception as exc:  # every parser has its own error classes; all mean "not valid"
        raise UsageError(f"{path}: cannot parse config ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: config must be a mapping at top level")
    _check_size(data, str(path), UsageError)
    return data


def parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars/lists: 3, 0.5, true, [1, 2], cosine."""
    import yaml

    try:
        return yaml.safe_load(text)
    except Exception:
        return text


def apply_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    cfg = copy.deepcopy(cfg)
    for item in overrides:
        if "=" not in item:
            raise UsageError(f"--set {item}: expected key=value, e.g. train.steps=200")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise UsageError(f"--set {item}: empty key part, expected e.g. train.steps=200")
        node = cfg
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UsageError(f"--set {item}: '{p}' is not a section")
        value = parse_value(raw)
        old = node.get(parts[-1])
        if isinstance(old, dict) and not isinstance(value, dict):
            example = f"{key.strip()}.{next(iter(old))}=..." if old else f"{key.strip()}.KEY=..."
            raise UsageError(f"--set {item}: {key.strip()} is a section; set its keys, e.g. {example}")
        node[parts[-1]] = value
    return cfg


def load_config(
    task_defaults: dict[str, Any] | None = None,
    file: str | Path | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    cfg = deep_merge(DEFAULTS, task_defaults or {})
    if file:
        data = read_config_file(file)
        _check_sections(cfg, data, f"{file}: ")
        cfg = deep_merge(cfg, data)
    return apply_overrides(cfg, overrides or [])


# -- the schema ---------------------------------------------------------------------------------
Schema = dict[str, Any]  # key -> Field, or -> Schema for a section


def _infer(defaults: Mapping[str, Any]) -> Schema:
    return {str(k): _infer(v) if isinstance(v, Mapping) else Field.like(v) for k, v in defaults.items()}


def _declare(schema: Schema, fields: Mapping[str, Field]) -> None:
    for dotted, field in fields.items():
        *sections, last = dotted.split(".")
        node = schema
        for s in sections:
            if not isinstance(node.get(s), dict):
                node[s] = {}
            node = node[s]
        node[last] = field


def task_fields(task: Any) -> dict[str, Field]:
    """``config_fields`` of the task's classes (base first) and of the instance, merged."""
    out: dict[str, Field] = {}
    for cls in reversed(type(task).__mro__):
        out.update(vars(cls).get("config_fields") or {})
    out.update(getattr(task, "__dict__", {}).get("config_fields") or {})
    return out


def schema_for(
    task_defaults: Mapping[str, Any] | None = None, fields: Mapping[str, Field] | None = None
) -> Schema:
    """Every key the core and the task know: inferred from the defaults, then the declared fields
    (core first, so a task can refine a core key)."""
    schema = _infer(deep_merge(DEFAULTS, dict(task_defaults or {})))
    _declare(schema, CORE_FIELDS)
    _declare(schema, fields or {})
    return schema


def _all_keys(schema: Schema, prefix: str = "") -> list[str]:
    out = []
    for k, v in schema.items():
        out.append(prefix + k)
        if isinstance(v, dict):
            out += _all_keys(v, f"{prefix}{k}.")
    return out


def _unknown(path: str, key: str, section: Schema, root: Schema) -> UsageError:
    close = difflib.get_close_matches(key, list(section), n=1, cutoff=0.6)
    parent = path[: -len(key)]
    if close:
        hint = f"did you mean {parent}{close[0]}?"
    else:
        # the right key in the wrong section (train.patch for data.patch)
        elsewhere = [k for k in _all_keys(root) if k.rsplit(".", 1)[-1] == key]
        if elsewhere:
            hint = f"did you mean {elsewhere[0]}?"
        elif section:
            names = sorted(section)
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            hint = f"{parent.rstrip('.') or 'the config'} takes {shown}"
        else:
            hint = f"this task reads no {parent.rstrip('.')} keys"
    return UsageError(f"{path}: unknown key; {hint}")


_KIND_WORDS = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "str": "a string",
    "list": "a list",
    "mapping": "a section",
}


def _coerce(path: str, value: Any, field: Field) -> Any:
    if value is None and (field.optional or field.kind == "any"):
        return None
    kind = field.kind
    bad = UsageError(f"{path}: expected {_KIND_WORDS.get(kind, kind)}, got {_show(value)}")
    if kind == "any":
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad
    elif kind == "int":
        if isinstance(value, str):
            try:
                value = int(value.strip().replace("_", ""))
            except ValueError:
                raise bad from None
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
    elif kind == "float":
        if isinstance(value, str):
            try:  # YAML 1.1 reads 1e-3 (no dot) as a string
                value = float(value.strip())
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        value = float(value)
        if not math.isfinite(value):
            raise UsageError(f"{path}: expected a finite number, got {_show(value)}")
    elif kind == "str":
        if not isinstance(value, str):
            raise bad
    elif kind == "list":
        if not isinstance(value, (list, tuple)):
            raise bad
        if field.item:
            value = [_coerce(f"{path}[{i}]", v, Field(field.item)) for i, v in enumerate(value)]
        else:
            value = list(value)
    elif kind == "mapping":
        if not isinstance(value, Mapping):
            raise bad
        value = dict(value)
    if field.choices is not None and value not in field.choices:
        options = ", ".join(str(c) for c in field.choices)
        close = difflib.get_close_matches(str(value), [str(c) for c in field.choices], n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UsageError(f"{path}: {_show(value)} is not one of {options}{hint}")
    if kind in ("int", "float"):
        for bound, ok, words in (
            (field.ge, lambda b: value >= b, "at least"),
            (field.gt, lambda b: value > b, "greater than"),
            (field.le, lambda b: value <= b, "at most"),
            (field.lt, lambda b: value < b, "less than"),
        ):
            if bound is not None and not ok(bound):
                shown = int(bound) if float(bound).is_integer() else bound
                raise UsageError(f"{path}: must be {words} {shown}, got {_show(value)}")
    return value


def _check(cfg: Mapping[Any, Any], schema: Schema, root: Schema, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        path = f"{prefix}{key}"
        if not isinstance(key, str) or key not in schema:
            raise _unknown(path, str(key), schema, root)
        spec = schema[key]
        if isinstance(spec, dict):
            if not isinstance(value, Mapping):
                example = f"{path}.{next(iter(spec))}" if spec else f"{path}.KEY"
                raise UsageError(f"{path}: expected a section (keys like {example}), got {_show(value)}")
            out[key] = _check(value, spec, root, f"{path}.")
        else:
            out[key] = _coerce(path, value, spec)
    return out


def check_config(cfg: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """``cfg`` with every key known and every value of the right type and range, or one
    :class:`UsageError` naming the first key that is not (with a suggestion for a misspelling).

    Numbers written as strings (``"1e-3"``, which YAML 1.1 reads as text) become numbers and ints
    become floats where a float is expected, so the saved config holds what the run used.
    """
    if not isinstance(cfg, Mapping):
        raise UsageError(f"the config must be a mapping, got {_show(cfg)}")
    return _check(cfg, schema, schema)


def resolve_for_task(task: Any, cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The config a trainer runs: the defaults under ``cfg`` (so configs saved by older versions
    gain new keys), checked against the task's schema."""
    defaults = deep_merge(DEFAULTS, dict(getattr(task, "default_config", None) or {}))
    if not isinstance(cfg, Mapping):
        raise UsageError(f"the config must be a mapping, got {_show(cfg)}")
    schema = schema_for(getattr(task, "default_config", None), task_fields(task))
    return check_config(deep_merge(defaults, dict(cfg)), schema)


def _flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def resume_difference(saved: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, Any, Any, int] | None:
    """The first key outside :data:`RESUMABLE_KEYS` whose value differs, with both values and the
    number of such keys; ``None`` when the run may continue with ``new``."""
    a, b = _flatten(saved), _flatten(new)
    diffs = [
        k
        for k in sorted(set(a) | set(b))
        if k not in RESUMABLE_KEYS
        and not k.startswith(tuple(r + "." for r in RESUMABLE_KEYS))
        and a.get(k, _MISSING) != b.get(k, _MISSING)
    ]
    if not diffs:
        return None
    k = diffs[0]
    return k, a.get(k, _MISSING), b.get(k, _MISSING), len(diffs)


class _Missing:
    def __repr__(self) -> str:
        return "(not set)"


_MISSING = _Missing()


def save_config(cfg: dict[str, Any], path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(cfg, sort_keys=True))


def read_saved_config(run_dir: Path) -> dict[str, Any]:
    """``RUN/config.yaml``; an unreadable one is damaged run state (exit 1), named with its path."""
    import yaml

    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise UsageError(f"{run_dir}: not a genedit run directory (no config.yaml)")
    text = _read_text(path, "run config", GeneditError)
    try:
        data = yaml.safe_load(text)
    except Exception as exc:
        raise GeneditError(f"{path}: damaged run config ({_first_line(exc)})") from None
    if not isinstance(data, dict):
        raise GeneditError(f"{path}: damaged run config (not a mapping at top level)")
    _check_size(data, str(path), GeneditError)
    try:
        _check_sections(DEFAULTS, data, "")
    except UsageError as exc:
        raise GeneditError(f"{path}: damaged run config ({exc})") from None
    return data
