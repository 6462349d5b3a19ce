"""LoadRequest -> LoadedModel for genedit-style's cards (imports torch: hook bodies only)."""

from __future__ import annotations

from typing import Any

import torch

from genedit_core.sdk import LoadedModel

from .features import VGGFeatures, build_features


def build_gatys(request: Any) -> LoadedModel:
    """The feature network, wrapped so that ``model(x)`` is Gatys with every option at its default.

    The edit hook runs the optimisation with the user's options instead; ``forward`` exists for
    tools that call any model generically (benchmarks, the Python API).
    """
    from .gatys import stylize
    from .options import GatysSettings
    from .styleimage import read_style

    origin = request.weights.origin if request.weights else request.card.name
    net = build_features(request.state_dict, origin)
    defaults = option_defaults(request)
    net = net.eval().requires_grad_(False).to(device=request.device, dtype=request.dtype)
    style: list[torch.Tensor] = []

    def forward(x: torch.Tensor) -> torch.Tensor:
        if not style:
            style.append(read_style(None))
        settings = GatysSettings.from_params(defaults)
        return torch.cat([stylize(net, xi[None], style[0], settings).image for xi in x])

    return LoadedModel(
        card=request.card,
        module=net,
        forward=forward,
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # the Gram statistics are of the whole image
        receptive_field=0,
        hyperparameters={**describe(net, origin), "option_defaults": defaults},
    )


def option_defaults(request: Any) -> dict[str, str]:
    """Defaults for the task options that came with the weights (``"options"`` in config.json).

    A feature network may want other settings than the card's defaults (another activation scale,
    other layers); its folder says so, and the user's options still win. Checked here, at load.
    """
    from genedit_core.sdk import UsageError, WeightsError

    from .options import GatysSettings

    config = request.weights.config if request.weights else {}
    raw = config.get("options") or {}
    if not isinstance(raw, dict):
        raise WeightsError(f"{request.weights.origin}: config 'options' must be a mapping of option to value")
    defaults = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}
    try:
        GatysSettings.from_params(defaults)
    except UsageError as exc:
        raise WeightsError(f"{request.weights.origin}: config 'options': {exc}") from None
    return defaults


def describe(net: VGGFeatures, origin: str) -> dict[str, Any]:
    return {
        "feature_network": net.description,
        "feature_weights": origin,
        "layers": ", ".join(net.layer_names),
    }


def tiny_vgg16_hed(
    widths: tuple[int, ...] = (4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8),
) -> dict[str, torch.Tensor]:
    """Random weights of a narrow VGG16 in the vgg16-hed layout (the conformance check's)."""
    state: dict[str, torch.Tensor] = {}
    channels, k = 3, 0
    for b, count in enumerate((2, 2, 3, 3, 3), start=1):
        for c in range(1, count + 1):
            state[f"block{b}_conv{c}.weight"] = (
                torch.randn(widths[k], channels, 3, 3) * (2 / (9 * channels)) ** 0.5
            )
            state[f"block{b}_conv{c}.bias"] = torch.zeros(widths[k])
            channels, k = widths[k], k + 1
    return state
