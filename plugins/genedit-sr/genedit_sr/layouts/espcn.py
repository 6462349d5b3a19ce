"""ESPCN checkpoints: ``conv1``..``conv3`` from RGB to 3·s² channels (s ≥ 2), ready for a pixel
shuffle; the last conv's width fixes the scale."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .._arch.espcn import ESPCN
from ._base import Hyper, Layout, State, conv_sizes, shape, three_convs

ARCH = "espcn"
NETWORK = ESPCN
CARDS = ("espcn",)


def _shuffle_scale(out_channels: int) -> int | None:
    """``s`` when ``out_channels`` is 3·s² with s ≥ 2, else ``None``."""
    s = math.isqrt(out_channels // 3)
    return s if out_channels % 3 == 0 and s >= 2 and s * s * 3 == out_channels else None


def _detect(state: Mapping[str, torch.Tensor]) -> bool:
    if not three_convs(state) or state["conv1.weight"].shape[1] != 3:
        return False
    return _shuffle_scale(state["conv3.weight"].shape[0]) is not None


def _convert(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    features, kernels = conv_sizes(state)
    scale = math.isqrt(shape(state, "conv3.weight")[0] // 3)
    return dict(state), {"scale": scale, "features": features, "kernels": kernels}


LAYOUTS = (Layout("espcn", ARCH, _detect, _convert, "ESPCN conv1..conv3 to 3·s² channels"),)
