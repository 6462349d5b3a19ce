"""Load what genedit-compress wrote: optimized folders, ``.onnx`` files and int8 programs.

A folder whose ``config.json`` carries a ``compress`` recipe with layer surgery (fewer channels,
depthwise pairs) is rebuilt in three steps: the owning plugin builds the original architecture
from zero tensors of the recorded base shapes (so it infers the same hyperparameters), the recorded
surgery is replayed, and the saved weights are loaded strictly. A recipe with an ``artifact``
(``model.int8.pt2``) loads that ExportedProgram. Anything else goes to :func:`genedit_core.load`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genedit_core.errors import PluginError, WeightsError


def load_model(
    name: str,
    *,
    weights: str | None = None,
    scale: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
) -> Any:
    from genedit_core.api import get_card, load

    card = get_card(name)
    if weights and weights.lower().endswith(".onnx") and Path(weights).is_file():
        from .onnx_model import load_onnx_model

        return load_onnx_model(weights, card=card, device=device)
    local = _local_artifact(card, weights)
    if local is not None:
        return local
    recipe, resolved = _recipe(card, weights, scale)
    if not recipe or not (recipe.get("surgery") or recipe.get("artifact")):
        return load(name, scale=scale, weights=weights, device=device, dtype=dtype)
    if recipe.get("artifact"):
        return _load_artifact(card, resolved, recipe)
    return rebuild(card, resolved, recipe, scale=scale, device=device, dtype=dtype)


def _local_artifact(card: Any, weights: str | None) -> Any:
    """A folder holding only an optimized program (int8 .pt2 / .onnx) and its config.json."""
    import json

    if not weights or not Path(weights).is_dir() or not (Path(weights) / "config.json").is_file():
        return None
    config = json.loads((Path(weights) / "config.json").read_text())
    recipe = config.get("genedit", {}).get("compress") or {}
    artifact = recipe.get("artifact")
    if not artifact:
        return None
    from genedit_core.weights import ResolvedWeights, sha256_of

    path = Path(weights) / artifact
    if not path.is_file():
        raise WeightsError(f"{path}: missing (the folder's config.json names it as the optimized program)")
    resolved = ResolvedWeights(path, str(path), sha256_of(path), None, config)
    return _load_artifact(card, resolved, recipe)


def _recipe(card: Any, weights: str | None, scale: int | None) -> tuple[dict[str, Any] | None, Any]:
    if not weights or card.variant(weights) is not None:
        return None, None
    from genedit_core.weights import resolve_weights

    resolved = resolve_weights(card, weights, scale)
    recipe = (resolved.config or {}).get("genedit", {}).get("compress") if resolved else None
    return recipe, resolved


def rebuild(
    card: Any,
    resolved: Any,
    recipe: dict[str, Any],
    *,
    scale: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
) -> Any:
    import torch

    from genedit_core.checkpoint import load_state_dict
    from genedit_core.device import choose_device, choose_dtype
    from genedit_core.plugins import get_plugins
    from genedit_core.requests import LoadRequest
    from genedit_core.weights import ResolvedWeights

    from .surgery import replay

    shapes = recipe.get("base_shapes")
    if not shapes:
        raise WeightsError(f"{resolved.origin}: the compress recipe has surgery but no base_shapes")
    base_state = {k: torch.zeros(v) for k, v in shapes.items()}
    config = {k: v for k, v in resolved.config.items() if k != "genedit"}
    base_weights = ResolvedWeights(resolved.path, resolved.origin, resolved.sha256, None, config)
    dev = choose_device(device)
    dt = choose_dtype(dtype, dev, card)
    genedit_cfg = resolved.config.get("genedit", {})
    request = LoadRequest(
        card,
        base_weights,
        base_state,
        scale or genedit_cfg.get("scale"),
        torch.device("cpu"),
        torch.float32,
        {},
    )
    model = get_plugins().hook.load_model(request=request)
    if model is None:
        raise PluginError(f"plugin '{card.plugin}' did not build model '{card.name}'")
    replay(model.module, recipe["surgery"])
    state = load_state_dict(resolved.path)
    model.module.load_state_dict(state, strict=True)
    model.module.to(dev, dt).eval()
    model.device, model.dtype, model.weights = dev, dt, resolved
    return model


def _load_artifact(card: Any, resolved: Any, recipe: dict[str, Any]) -> Any:
    import torch

    from genedit_core.model import LoadedModel

    path = Path(resolved.path).parent / recipe["artifact"]
    if not path.is_file():
        raise WeightsError(f"{path}: missing (the folder's config.json names it as the optimized program)")
    if path.suffix == ".onnx":
        from .onnx_model import load_onnx_model

        return load_onnx_model(path, card=card)
    program = torch.export.load(str(path)).module()
    genedit_cfg = resolved.config.get("genedit", {})
    scale = int(genedit_cfg.get("scale", 1))
    if recipe.get("compile", True):
        program = torch.compile(program)
    return LoadedModel(
        card=card,
        module=program,
        forward=program,
        device=torch.device("cpu"),
        dtype=torch.float32,
        scale=scale,
        weights=resolved,
        hyperparameters={k: v for k, v in resolved.config.items() if k != "genedit"},
    )
