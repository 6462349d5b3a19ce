"""What runtimes that convert a model (``genedit.backends``: OpenVINO, a compiled torch program) share:
publishing a cache entry atomically, and the loaded model's forward as one module to convert.

Why in the core: every converting runtime caches its program per model on disk, and every one of
them must never let a reader see half an entry; two copies of the same rename dance would drift.
The module wrapper matters the same way: a runtime converts ``LoadedModel.forward`` (the layout code
around the network included), not the bare network, or its output would differ from torch's.

Torch is imported only inside :func:`forward_module`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import LoadedModel


def publish_folder(final: Path, fill: Callable[[Path], None], *, marker: str = "check.json") -> Path:
    """Create the folder ``final`` atomically: ``fill`` writes into a temporary sibling, which is then
    renamed into place, so a reader sees a whole entry or none.

    When another process published ``final`` first (the rename fails and ``final/marker`` exists),
    its entry is kept and ours is dropped; any other failure is raised. The temporary folder never
    outlives the call.
    """
    import os

    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        fill(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / marker).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def forward_module(model: LoadedModel) -> Any:
    """``model.forward`` as a ``torch.nn.Module`` holding ``model.module`` (its parameters), in eval
    mode: what a converter traces or exports."""
    import torch

    class Forward(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = model.module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return model.forward(x)

    return Forward().eval()


def model_fields(model: LoadedModel) -> dict[str, Any]:
    """What any program converted from ``model`` depends on, for a cache key: the card (with its
    plugin), the weights' sha256, scale, dtype and hyperparameters. A runtime adds its own (input
    bucket, runtime version, CPU). Without a weights file (a deterministic init, a bundled table) the
    module's own tensors are hashed instead."""
    from .device import dtype_name

    card = model.card
    weights = model.weights.sha256 if model.weights is not None else "tensors:" + tensors_sha256(model.module)
    return {
        "card": f"{card.plugin}:{card.name}" if card.plugin else card.name,
        "weights_sha256": weights,
        "scale": model.scale,
        "dtype": dtype_name(model.dtype),
        "hyperparameters": model.hyperparameters,
    }


def tensors_sha256(module: Any) -> str:
    """sha256 over a module's state dict: names, dtypes, shapes and bytes, in name order."""
    import hashlib

    import torch

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        t = tensor.detach().to("cpu").contiguous()
        h.update(str((t.dtype, tuple(t.shape))).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def probe_check(
    got: Any, want: Any, shape: str, limit: float, *, reference: str = "torch", shape_note: str = ""
) -> dict[str, Any]:
    """A converted program's output ``got`` on a probe of ``shape`` against the torch output ``want``:
    ``{"ok": True, "probe", "max_abs_diff"}``, or ``{"ok": False, "reason"}`` naming the shape
    mismatch (plus ``shape_note``) or the difference above ``limit``. Runtimes store it as the cache
    entry's ``check.json``."""
    if tuple(got.shape) != tuple(want.shape):
        reason = f"its output on a {shape} probe is {tuple(got.shape)}, {reference}'s {tuple(want.shape)}"
        return {"ok": False, "reason": reason + (f" {shape_note}" if shape_note else "")}
    diff = float((got - want).abs().max())
    if not diff <= limit:
        return {
            "ok": False,
            "reason": f"its output differs from {reference} by {diff:.3g} on a {shape} probe",
        }
    return {"ok": True, "probe": shape, "max_abs_diff": diff}
