"""Run-directory layout and checkpoint files.

::

    RUN/config.yaml             resolved config (what --resume reads back)
    RUN/metrics.jsonl           one JSON object per logged step
    RUN/samples/step-000500.png sample grids of generative models
    RUN/checkpoints/step-000500/nets.safetensors   every network (EMA copies included)
                               /model.safetensors  the exported network alone (valid --weights)
                               /config.json        its hyperparameters
                               /state.pt           optimizers, schedules, RNG, step (tensors and
                                                   plain containers only: loads with weights_only)
    RUN/checkpoints/last.json, best.json           pointers {"step", "dir", "metric"}
        RUN/model.safetensors, RUN/config.json         copy of the best (else last) export

Every file and folder is written under a temporary name (``.step-000500.*``, ``.*.part``) and
renamed into place, so a kill leaves the previous checkpoint whole; :func:`clean_stale` removes
such leftovers. A checkpoint that does not load (truncated, damaged, a pointer that is not JSON)
makes :func:`load_checkpoint` fall back to the newest one that does, with a warning.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UsageError, WeightsError

_STEP_DIR = re.compile(r"step-(\d{6,})")


def step_dir(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:06d}"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def flat_state(nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    out = {}
    for name, net in nets.items():
        for k, v in net.state_dict().items():
            out[f"{name}/{k}"] = v.detach().to("cpu").contiguous()
    return out


def _shape(t: torch.Tensor) -> str:
    return "×".join(str(n) for n in t.shape) or "scalar"


def load_flat_state(
    nets: dict[str, nn.Module], flat: dict[str, torch.Tensor], origin: str | Path = "checkpoint"
) -> None:
    """Load every network; a checkpoint of other networks (changed architecture, another task)
    is refused with the first tensor that differs, before any network is touched."""
    fix = "the networks this config builds; was the architecture changed?"
    extra = sorted({k.split("/", 1)[0] for k in flat} - set(nets))
    if extra:
        raise WeightsError(f"{origin}: holds a network '{extra[0]}' that is not among {fix}")
    parts = {}
    for name, net in nets.items():
        prefix = f"{name}/"
        theirs = {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
        for k, own in net.state_dict().items():
            if k not in theirs:
                raise WeightsError(f"{origin}: {name}/{k} is missing; it does not fit {fix}")
            if theirs[k].shape != own.shape:
                raise WeightsError(
                    f"{origin}: {name}/{k} is {_shape(theirs[k])} there, {_shape(own)} in {fix}"
                )
        unexpected = sorted(set(theirs) - set(net.state_dict()))
        if unexpected:
            raise WeightsError(f"{origin}: {name}/{unexpected[0]} is not in {fix}")
        parts[name] = theirs
    for name, net in nets.items():
        net.load_state_dict(parts[name])


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached": float(np_state[4]),
        },
        "python": list(_py_state_flat()),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _py_state_flat() -> list[Any]:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _atomic_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def save_checkpoint(
    run: Path,
    step: int,
    nets: dict[str, nn.Module],
    export_name: str,
    export_config: dict[str, Any],
    state: dict[str, Any],
    metric: float | None = None,
    is_best: bool = False,
    keep: int = 3,
) -> Path:
    """Write a complete checkpoint into a temp folder, then rename it into place and move pointers."""
    final = step_dir(run, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    save_file(flat_state(nets), str(tmp / "nets.safetensors"))
    export = {k: v.detach().to("cpu").contiguous() for k, v in nets[export_name].state_dict().items()}
    save_file(export, str(tmp / "model.safetensors"), metadata={"genedit_step": str(step)})
    (tmp / "config.json").write_text(json.dumps(export_config, indent=2, sort_keys=True))
    torch.save(state, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    pointer = {"step": step, "dir": final.name, "metric": metric}
    _atomic_json(run / "checkpoints" / "last.json", pointer)
    if is_best:
        _atomic_json(run / "checkpoints" / "best.json", pointer)
    _publish(run, final)
    _prune(run, keep)
    return final


def _publish(run: Path, final: Path) -> None:
    """Keep RUN/model.safetensors + config.json on the best checkpoint (else the last)."""
    best = read_pointer(run, "best") or read_pointer(run, "last")
    src = run / "checkpoints" / best["dir"] if best else final
    if not all((src / name).is_file() for name in ("model.safetensors", "config.json")):
        src = final
    for name in ("model.safetensors", "config.json"):
        fd, tmp = tempfile.mkstemp(dir=run, prefix=f".{name}.", suffix=".part")
        os.close(fd)
        shutil.copyfile(src / name, tmp)
        os.replace(tmp, run / name)


def _prune(run: Path, keep: int) -> None:
    if keep <= 0:
        return
    pinned = {p["dir"] for p in (read_pointer(run, "best"), read_pointer(run, "last")) if p}
    dirs = sorted(d for d in (run / "checkpoints").glob("step-*") if d.is_dir())
    for d in dirs[:-keep]:
        if d.name not in pinned:
            shutil.rmtree(d, ignore_errors=True)


def _pointer(run: Path, which: str) -> tuple[dict[str, Any] | None, str | None]:
    """The pointer, or ``None`` and why not (``None, None`` when there is none)."""
    path = run / "checkpoints" / f"{which}.json"
    if not path.exists():
        return None, None
    try:
        data = json.loads(path.read_bytes()[:65536])
    except Exception as exc:  # OSError, bad JSON or UTF-8, nesting past the recursion limit
        return None, f"unreadable ({_first_line(exc)})"
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("dir"), str)
        or not _STEP_DIR.fullmatch(data["dir"])
        or not isinstance(data.get("step"), int)
    ):
        return None, 'not a checkpoint pointer ({"step", "dir", "metric"})'
    return data, None


def read_pointer(run: Path, which: str) -> dict[str, Any] | None:
    """``last`` or ``best``; ``None`` when missing or damaged (its folder is found by scanning)."""
    return _pointer(run, which)[0]


def _step_of(folder: Path) -> int:
    m = _STEP_DIR.fullmatch(folder.name)
    return int(m.group(1)) if m else -1


def clean_stale(run: Path) -> list[Path]:
    """Remove what a killed save leaves: ``checkpoints/.step-*`` folders and ``.*.part`` files
    (``tmp*.part`` from older versions), in the run folder and its ``checkpoints``. Only these
    names, which genedit alone writes there, are touched."""
    removed = []
    for folder in (run, run / "checkpoints"):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            temp_file = p.name.endswith(".part") and p.name.startswith((".", "tmp"))
            temp_dir = folder.name == "checkpoints" and p.name.startswith(".step-")
            if temp_dir and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                removed.append(p)
            elif temp_file and (p.is_file() or p.is_symlink()):
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def _read_folder(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Both files of a checkpoint, or ``ValueError`` naming the file that does not load."""
    nets = folder / "nets.safetensors"
    try:
        flat = load_file(str(nets))
    except Exception as exc:  # missing, truncated, not safetensors: all mean "this one is broken"
        raise ValueError(f"{nets}: does not load ({_first_line(exc)})") from None
    path = folder / "state.pt"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: does not load ({_first_line(exc)})") from None
    if not (
        isinstance(state, dict)
        and isinstance(state.get("step"), int)
        and all(isinstance(state.get(k), dict) for k in ("optimizers", "schedulers", "rng"))
    ):
        raise ValueError(f"{path}: not a genedit training state (step, optimizers, schedulers, rng)")
    return flat, state


def load_checkpoint(run: Path, repair: bool = True) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """The checkpoint ``last.json`` points to; if it (or the pointer) does not load, the newest
    step folder that does, with a warning. ``repair`` (rank 0 only) then points ``last.json`` at
    it and drops a ``best.json`` that points past it, since those steps are trained again."""
    pointer, problem = _pointer(run, "last")
    folders = sorted(
        (p for p in (run / "checkpoints").glob("step-*") if p.is_dir() and _step_of(p) >= 0),
        key=_step_of,
        reverse=True,
    )
    if pointer is None and problem is None and not folders:
        raise UsageError(f"{run}: no checkpoint to resume from (checkpoints/last.json missing)")
    first = run / "checkpoints" / pointer["dir"] if pointer else None
    failures = [f"{run / 'checkpoints' / 'last.json'}: {problem}"] if problem else []
    for folder in ([first] if first else []) + [f for f in folders if f != first]:
        try:
            flat, state = _read_folder(folder)
        except ValueError as exc:
            failures.append(str(exc))
            continue
        if failures:
            from ..api import GeneditWarning

            warnings.warn(
                f"{failures[0]}; resuming from {folder.name}, the newest checkpoint that loads",
                GeneditWarning,
                stacklevel=2,
            )
            if repair:
                _repair_pointers(run, folder, state)
        return folder, flat, state
    raise WeightsError(f"{failures[0]}; no other checkpoint in {run / 'checkpoints'} loads")


def _repair_pointers(run: Path, folder: Path, state: dict[str, Any]) -> None:
    step = _step_of(folder)
    _atomic_json(run / "checkpoints" / "last.json", {"step": step, "dir": folder.name, "metric": None})
    best, _ = _pointer(run, "best")
    best_path = run / "checkpoints" / "best.json"
    if best_path.exists() and (best is None or best["step"] > step):
        best_path.unlink()
        state["best_metric"] = None


def restore(
    folder: Path,
    flat: dict[str, torch.Tensor],
    state: dict[str, Any],
    nets: dict[str, nn.Module],
    opts: dict[str, torch.optim.Optimizer],
    scheds: dict[str, Any],
) -> tuple[int, float | None]:
    """Put a loaded checkpoint into the networks, optimizers, schedules and RNGs; return the step
    and best metric. A checkpoint of other networks or optimizers is one :class:`WeightsError`."""
    load_flat_state(nets, flat, folder / "nets.safetensors")
    path = folder / "state.pt"
    for kind, objs in (("optimizers", opts), ("schedulers", scheds)):
        missing = sorted(set(objs) - set(state[kind]))
        if missing:
            raise WeightsError(
                f"{path}: no {kind[:-1]} state for '{missing[0]}' (saved: {sorted(state[kind])})"
            )
    try:
        for k, o in opts.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in scheds.items():
            s.load_state_dict(state["schedulers"][k])
        set_rng_state(state["rng"])
    except Exception as exc:
        raise WeightsError(f"{path}: does not match this task's optimizers ({_first_line(exc)})") from None
    best = state.get("best_metric")
    return int(state["step"]), float(best) if isinstance(best, (int, float)) else None


def run_task(run: Path) -> str | None:
    """The task that made ``run`` (``genedit_task`` in its exported config.json), if readable."""
    candidates = [run / "config.json"]
    pointer = read_pointer(run, "last")
    if pointer:
        candidates.append(run / "checkpoints" / pointer["dir"] / "config.json")
    for path in candidates:
        try:
            name = json.loads(path.read_bytes()[: 1 << 20]).get("genedit_task")
        except Exception:  # unreadable or not a JSON object: no answer from this file
            continue
        if isinstance(name, str):
            return name
    return None
