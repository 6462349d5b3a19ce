"""Typed options of genedit-style's tasks, and the settings they make (torch-free: cards use them).

``genedit run stylize -m gatys --steps 50 photo.png`` hands ``{"steps": "50"}`` to the plugin in
``request.params``; the card declares each option (:data:`GATYS_OPTIONS`) so that front ends list
them and refuse unknown or mistyped ones before any work, and :meth:`GatysSettings.from_params`
reads them with range checks (a bad value is one line naming the option).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from genedit_core.sdk import Option, UsageError, get_bool, get_choice, get_float, get_int

STYLE_LAYERS = "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
CONTENT_LAYERS = "conv4_2"


@dataclass(frozen=True)
class GatysSettings:
    """Every knob of one run (the ``genedit run stylize -m gatys`` options, typed)."""

    steps: int = 100
    size: int = 192
    optimizer: str = "lbfgs"
    lr: float | None = None
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1e-3
    content_layers: tuple[str, ...] = tuple(CONTENT_LAYERS.split(","))
    style_layers: tuple[str, ...] = tuple(STYLE_LAYERS.split(","))
    init: str = "content"
    preserve_colour: bool = False
    style_scale: float = 1.0
    octaves: int = 1
    pool: str = "max"
    seed: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GatysSettings:
        """Read ``request.params``; a bad value is a UsageError naming the option."""
        d = cls()
        settings = cls(
            steps=get_int(params, "steps", d.steps, lo=1),
            size=get_int(params, "size", d.size, lo=0),
            optimizer=get_choice(params, "optimizer", d.optimizer, ("lbfgs", "adam")),
            lr=get_float(params, "lr", 0.0, lo=0.0) or None,
            content_weight=get_float(params, "content_weight", d.content_weight, lo=0.0),
            style_weight=get_float(params, "style_weight", d.style_weight, lo=0.0),
            tv_weight=get_float(params, "tv_weight", d.tv_weight, lo=0.0),
            content_layers=_layers(params, "content_layers", CONTENT_LAYERS),
            style_layers=_layers(params, "style_layers", STYLE_LAYERS),
            init=get_choice(params, "init", d.init, ("content", "noise")),
            preserve_colour=get_bool(params, "preserve_colour", d.preserve_colour),
            style_scale=get_float(params, "style_scale", d.style_scale, lo=0.01),
            octaves=get_int(params, "octaves", d.octaves, lo=1),
            pool=get_choice(params, "pool", d.pool, ("max", "avg")),
            seed=get_int(params, "seed", d.seed),
        )
        if settings.octaves > 6:
            raise UsageError(f"--octaves {settings.octaves}: at most 6 (each halves the size)")
        return settings


def _layers(params: Mapping[str, Any], name: str, default: str) -> tuple[str, ...]:
    raw = str(params.get(name, default))
    layers = tuple(s.strip() for s in raw.split(",") if s.strip())
    if not layers:
        raise UsageError(f"--{name.replace('_', '-')}: name at least one layer, e.g. {default}")
    return layers


GATYS_OPTIONS: tuple[Option, ...] = (
    Option("style", str, None, "style image (a path; default: the bundled painting, swirls.png)", image=True),
    Option("steps", int, GatysSettings.steps, "optimisation steps (network evaluations) per octave"),
    Option("size", int, GatysSettings.size, "longer side of the result in pixels, never above the input's (0: the input's)"),
    Option("optimizer", str, GatysSettings.optimizer, "L-BFGS (the paper's) or Adam (less memory)", choices=("lbfgs", "adam")),
    Option("lr", float, None, "step size (default: 1 for L-BFGS, 0.02 for Adam)"),
    Option("content_weight", float, GatysSettings.content_weight, "weight of the content loss"),
    Option("style_weight", float, GatysSettings.style_weight, "weight of the style (Gram) loss"),
    Option("tv_weight", float, GatysSettings.tv_weight, "weight of the total-variation smoothness loss"),
    Option("content_layers", str, CONTENT_LAYERS, "comma-separated VGG layers for content"),
    Option("style_layers", str, STYLE_LAYERS, "comma-separated VGG layers for style"),
    Option("init", str, GatysSettings.init, "start from the content image or from noise", choices=("content", "noise")),
    Option("preserve_colour", bool, False, "keep the content's colours: luminance from the result, chroma from the photo"),
    Option("style_scale", float, GatysSettings.style_scale, "style image size relative to the result (bigger: coarser strokes)"),
    Option("octaves", int, GatysSettings.octaves, "coarse-to-fine passes, each at twice the last size"),
    Option("pool", str, GatysSettings.pool, "pooling in the VGG trunk (Gatys et al. prefer avg)", choices=("max", "avg")),
    Option("seed", int, GatysSettings.seed, "seed of the noise start"),
)  # fmt: skip


COLOUR_OPTIONS: tuple[Option, ...] = (
    Option(
        "style",
        str,
        None,
        "image whose colours to take (a path; default: the bundled painting, swirls.png)",
        image=True,
    ),
    Option("strength", float, 1.0, "0 keeps the photo's colours, 1 takes the painting's Lab mean and spread"),
)


MULTISTYLE_OPTIONS: tuple[Option, ...] = (
    Option("style", str, "0", "a style number (0-25 for the bundled network) or a blend such as 3:0.6,7:0.4"),
)
