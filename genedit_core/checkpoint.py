"""Safe checkpoint loading and the key clean-up every layout needs.

Untrusted files are data: ``.safetensors`` through safetensors, everything else only through
``torch.load(weights_only=True)``, whose restricted unpickler refuses any global it does not know
(so no code in the file runs). Plugin converters then see a flat ``{name: tensor}`` dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import UnsafeCheckpointError, WeightsError

# Wrapper keys used by common training codebases, outermost first (BasicSR, EDSR, rosinality, ...).
WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model", "net", "g_ema", "generator")
STRIP_PREFIXES = ("module.", "_orig_mod.")


def load_state_dict(path: str | Path) -> dict[str, Any]:
    """Read tensors from ``path``; refuse pickles that hold anything but tensors and containers."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: weights file is empty")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as exc:
            raise WeightsError(f"{path}: not a valid safetensors file ({_one_line(exc)})") from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True, mmap=_is_zip(path))
    except Exception as exc:
        text = _one_line(exc)
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "GLOBAL" in str(exc):
            raise UnsafeCheckpointError(
                f"{path}: refused, the file holds Python objects, not only tensors ({_global_name(exc)}); "
                "nothing in it was run. Convert it to safetensors with code you trust."
            ) from None
        raise WeightsError(f"{path}: not a readable PyTorch checkpoint ({text})") from None
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path}: expected a dict of tensors, got {type(obj).__name__}")
    return dict(obj)


def canonicalize(state: Mapping[str, Any], extra_keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """Unwrap training wrappers and strip ``module.``; keep top-level extras (e.g. ``latent_avg``).

    ``extra_keep`` names non-wrapper top-level entries a plugin wants to see next to the weights.
    """
    import torch

    current: Mapping[str, Any] = state
    extras: dict[str, Any] = {k: state[k] for k in extra_keep if k in state}
    for _ in range(4):
        if any(isinstance(v, torch.Tensor) for v in current.values()) and not any(
            k in current and isinstance(current[k], Mapping) for k in WRAPPER_KEYS
        ):
            break
        key = next((k for k in WRAPPER_KEYS if isinstance(current.get(k), Mapping)), None)
        if key is None:
            break
        current = current[key]
    out: dict[str, Any] = {}
    for k, v in current.items():
        if not isinstance(v, torch.Tensor):
            continue
        name = k
        changed = True
        while changed:
            changed = False
            for prefix in STRIP_PREFIXES:
                if name.startswith(prefix):
                    name = name[len(prefix) :]
                    changed = True
        out[name] = v
    out.update({k: v for k, v in extras.items() if k not in out})
    if not out:
        raise WeightsError("checkpoint holds no tensors after unwrapping " + ", ".join(WRAPPER_KEYS))
    return out


def load_strict(
    module: Any,
    state: Mapping[str, Any],
    origin: str,
    *,
    optional: tuple[str, ...] = (),
    note: str = "",
) -> None:
    """Load ``state`` into ``module`` only if every name and shape matches; else one error line.

    Every plugin needs the same guarantee (no layer left at its random init, no tensor silently
    ignored) and users need the same message, so this is the one strict loader. A mismatch is a
    :class:`WeightsError` naming ``origin`` (the weights file) and listing, each truncated with its
    count, the missing keys, the unexpected keys and the mis-shaped keys (file shape vs network's).
    ``optional`` keys may be absent: the module keeps its own values (StyleGAN2's ``latent_avg``,
    computed when a checkpoint lacks it). ``note`` says how the file was read (``read as
    edsr-basicsr``). Entries that are not tensors are metadata, not weights, and are skipped.
    """
    import torch

    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    own = module.state_dict()
    missing = [k for k in own if k not in tensors and k not in optional]
    unexpected = [k for k in tensors if k not in own]
    misshaped = [
        f"{k} (file {_dims(tensors[k].shape)}, network {_dims(v.shape)})"
        for k, v in own.items()
        if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or misshaped:
        parts = [
            f"{label} {_counted(keys)}: {_few(keys)}"
            for label, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", misshaped))
            if keys
        ]
        where = f"{origin} ({note})" if note else origin
        raise WeightsError(
            f"{where}: does not fit the {type(module).__name__} built for it: {'; '.join(parts)}"
        )
    module.load_state_dict(tensors, strict=all(k in tensors for k in optional))


def _counted(keys: list[str]) -> str:
    return f"{len(keys)} key" + ("" if len(keys) == 1 else "s")


def _few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(sorted(keys)[:n])
    return shown + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _dims(shape: Any) -> str:
    return "×".join(str(d) for d in shape) or "scalar"


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _global_name(exc: BaseException) -> str:
    import re

    # torch says "GLOBAL io.open was not an allowed global"; older pickles name it "module name".
    m = re.search(r"GLOBAL ([\w.]+(?: (?!was\b)[\w.]+)?)", str(exc)) or re.search(
        r"global ([\w.]+)", str(exc)
    )
    return f"global {m.group(1).strip()}" if m else "non-tensor objects"


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
