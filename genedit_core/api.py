"""The Python API: ``genedit_core.load("edsr", scale=2).upscale(image)``.

``load`` is the one builder every command uses: find the card, resolve weights (variant, Hub or
local file), read them safely, pick device and dtype, and let the owning plugin build the network.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from .errors import GeneditError, PluginError, UsageError

if TYPE_CHECKING:
    from .cards import ModelCard
    from .model import LoadedModel


class GeneditWarning(UserWarning):
    """Something the user should see, e.g. that bundled weights ran instead of the Hub ones."""


def get_card(name: str) -> ModelCard:
    from .plugins import get_plugins

    return get_plugins().registry.get(name)


def list_models(task: str | None = None) -> list[ModelCard]:
    from .plugins import get_plugins

    return get_plugins().registry.list(task)


def check_scale(card: ModelCard, scale: int | None) -> int | None:
    if scale is None:
        return card.scale_when_unset
    if card.scales and scale not in card.scales and not card.any_scale:
        have = ", ".join(f"x{s}" for s in card.scales)
        raise UsageError(f"model '{card.name}' has no x{scale} (it has {have})")
    if scale < 1:
        raise UsageError(f"--scale must be a positive integer, got {scale}")
    return scale


BACKEND_GROUP = "genedit.backends"
BACKEND_SUFFIXES = {".onnx": "onnxruntime"}


def load_with_backend(backend: str, card: ModelCard, weights: str, device: str) -> LoadedModel:
    """Run an exported file through another runtime, found by entry point in ``genedit.backends``.

    A backend is a callable ``(path, card=..., device=...) -> LoadedModel``; genedit-compress
    provides ``onnxruntime``. The core knows no runtime by name, only the group.
    """
    from importlib import metadata

    eps = {ep.name: ep for ep in metadata.entry_points(group=BACKEND_GROUP)}
    if backend not in eps:
        have = ", ".join(sorted(eps)) or "none installed"
        raise UsageError(f"--backend {backend}: no such backend (available: torch, {have})")
    return eps[backend].load()(weights, card=card, device=device)


def load(
    name: str,
    *,
    scale: int | None = None,
    weights: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "torch",
    **options: Any,
) -> LoadedModel:
    """Build a ready-to-run model; see ``genedit info NAME`` for its variants and scales.

    ``backend`` other than ``torch`` (or weights ending in ``.onnx``) runs an exported file through
    the matching entry point of the ``genedit.backends`` group.
    """
    from pathlib import Path

    if weights is not None and backend == "torch":
        backend = BACKEND_SUFFIXES.get(Path(weights).suffix.lower(), "torch")
    if backend != "torch":
        if weights is None:
            raise UsageError(f"--backend {backend} needs --weights FILE (an exported model)")
        from .plugins import get_plugins
        from .weights import check_local_weights

        if not weights.startswith("hf://"):
            check_local_weights(Path(weights).expanduser())  # a FIFO or a device: refused, not opened
        return load_with_backend(backend, get_plugins().registry.get(name), weights, device)
    from .checkpoint import canonicalize, load_state_dict
    from .device import choose_device, choose_dtype
    from .plugins import _describe, get_plugins
    from .requests import LoadRequest
    from .weights import resolve_weights

    plugins = get_plugins()
    card = plugins.registry.get(name)
    explicit_scale = scale is not None
    scale = check_scale(card, scale)
    # A bad --device/--dtype is a usage error: report it before any download.
    dev = choose_device(device)
    dt = choose_dtype(dtype, dev, card)
    is_file_spec = weights is not None and card.variant(weights) is None
    resolved = resolve_weights(card, weights, None if is_file_spec else scale)
    if resolved is not None and resolved.warning:
        warnings.warn(resolved.warning, GeneditWarning, stacklevel=2)
    state = None
    if resolved is not None:
        state = canonicalize(load_state_dict(resolved.path), card.keep_keys)
    request = LoadRequest(
        card, resolved, state, scale if (explicit_scale or not is_file_spec) else None, dev, dt, options
    )
    try:
        model = plugins.hook.load_model(request=request)
    except GeneditError:
        raise
    except (Exception, SystemExit) as exc:  # a plugin's bug is one line naming it, not a traceback
        raise PluginError(
            f"plugin '{card.plugin}' failed in its load_model hook for model '{card.name}': {_describe(exc)}"
        ) from exc
    if model is None:
        raise PluginError(f"plugin '{card.plugin}' did not build model '{card.name}'")
    if model.dtype != dt:  # the core's choice alone (--dtype, the card's bf16/fp16_safe)
        from .device import dtype_name

        raise PluginError(
            f"plugin '{card.plugin}' built model '{card.name}' in {dtype_name(model.dtype)}, but "
            f"{dtype_name(dt)} was chosen; build in request.dtype"
        )
    if explicit_scale and card.scales and model.scale != scale:
        raise UsageError(
            f"{resolved.origin if resolved else card.name}: weights are x{model.scale}, but x{scale} was asked for"
        )
    model.weights = resolved
    return model
