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
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import UsageError


def step_dir(run: Path, step: int) -> Path:
    return run / "checkpoints" / f"step-{step:06d}"


def flat_state(nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    out = {}
    for name, net in nets.items():
        for k, v in net.state_dict().items():
            out[f"{name}/{k}"] = v.detach().to("cpu").contiguous()
    return out


def load_flat_state(nets: dict[str, nn.Module], flat: dict[str, torch.Tensor]) -> None:
    for name, net in nets.items():
        prefix = f"{name}/"
        net.load_state_dict({k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)})


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
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
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
    for name in ("model.safetensors", "config.json"):
        fd, tmp = tempfile.mkstemp(dir=run, suffix=".part")
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


def read_pointer(run: Path, which: str) -> dict[str, Any] | None:
    path = run / "checkpoints" / f"{which}.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def load_checkpoint(run: Path) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    pointer = read_pointer(run, "last")
    if pointer is None:
        raise UsageError(f"{run}: no checkpoint to resume from (checkpoints/last.json missing)")
    folder = run / "checkpoints" / pointer["dir"]
    flat = load_file(str(folder / "nets.safetensors"))
    state = torch.load(folder / "state.pt", map_location="cpu", weights_only=True)
    return folder, flat, state
