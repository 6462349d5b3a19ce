"""VDSR checkpoints: ``convs.0``..``convs.N``; depth, width and channels come from the keys, the scale
(VDSR refines a bicubic upscale) from the request or config.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .._arch.vdsr import VDSR
from ._base import Hyper, Layout, State, indices, shape

ARCH = "vdsr"
NETWORK = VDSR
CARDS = ("vdsr",)


def _detect(state: Mapping[str, torch.Tensor]) -> bool:
    return "convs.0.weight" in state and "convs.1.weight" in state


def _convert(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    layers = indices(state, r"convs\.(\d+)\.weight")
    num_feat, channels = shape(state, "convs.0.weight")[:2]
    return dict(state), {"channels": channels, "num_feat": num_feat, "num_layers": layers[-1] + 1}


LAYOUTS = (Layout("vdsr", ARCH, _detect, _convert, "VDSR convs.0..convs.N"),)
