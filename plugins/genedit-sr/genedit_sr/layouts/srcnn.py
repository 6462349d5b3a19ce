"""SRCNN checkpoints: ``conv1``..``conv3`` whose output has the input's channels (Y→Y or RGB→RGB).

SRCNN does not upscale by itself (it refines a bicubic upscale), so the weights do not fix the scale;
it comes from the request or config.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .._arch.srcnn import SRCNN
from ._base import Hyper, Layout, State, conv_sizes, shape, three_convs

ARCH = "srcnn"
NETWORK = SRCNN
CARDS = ("srcnn",)


def _detect(state: Mapping[str, torch.Tensor]) -> bool:
    if not three_convs(state):
        return False
    c_in = state["conv1.weight"].shape[1]
    return c_in in (1, 3) and state["conv3.weight"].shape[0] == c_in


def _convert(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    features, kernels = conv_sizes(state)
    return dict(state), {
        "channels": shape(state, "conv1.weight")[1],
        "features": features,
        "kernels": kernels,
    }


LAYOUTS = (Layout("srcnn", ARCH, _detect, _convert, "SRCNN conv1..conv3 on Y (or RGB)"),)
