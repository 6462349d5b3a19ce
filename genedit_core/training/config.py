"""Training configuration: core defaults < task defaults < config file < ``--set key=value``.

The resolved config is saved in the run directory, so a run can always be reproduced or resumed
exactly as it was started.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError

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


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: config file not found")
    text = path.read_text()
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
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            raise UsageError(f"{path}: config must be .toml, .yaml/.yml or .json")
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{path}: cannot parse config ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: config must be a mapping at top level")
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
        node = cfg
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise UsageError(f"--set {item}: '{p}' is not a section")
        node[parts[-1]] = parse_value(raw)
    return cfg


def load_config(
    task_defaults: dict[str, Any] | None = None,
    file: str | Path | None = None,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    cfg = deep_merge(DEFAULTS, task_defaults or {})
    if file:
        cfg = deep_merge(cfg, read_config_file(file))
    return apply_overrides(cfg, overrides or [])


def save_config(cfg: dict[str, Any], path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(cfg, sort_keys=True))


def read_saved_config(run_dir: Path) -> dict[str, Any]:
    import yaml

    path = run_dir / "config.yaml"
    if not path.is_file():
        raise UsageError(f"{run_dir}: not a genedit run directory (no config.yaml)")
    return yaml.safe_load(path.read_text())
