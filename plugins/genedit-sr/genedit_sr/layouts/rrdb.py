"""RRDBNet checkpoints (ESRGAN, Real-ESRGAN) in their three published layouts.

All three are brought to BasicSR's names (``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
``conv_upK``, ``conv_hr``, ``conv_last``), then sized by one function: the number of upsampling
convs and the input channels (3, or 12 / 48 after a pixel-unshuffle) fix the scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .._arch.rrdb import RRDBNet
from ._base import Hyper, Layout, LayoutMismatch, State, indices, rename, shape

ARCH = "rrdb"
NETWORK = RRDBNet
CARDS = ("realesrgan",)

_UNSHUFFLE_FOR_CHANNELS = {3: 1, 12: 2, 48: 4}


def _hyper(state: Mapping[str, torch.Tensor]) -> Hyper:
    """Sizes of a state dict already in BasicSR names."""
    num_feat, in_ch = shape(state, "conv_first.weight")[:2]
    if in_ch not in _UNSHUFFLE_FOR_CHANNELS:
        raise LayoutMismatch(
            f"'conv_first.weight' takes {in_ch} channels; RGB models take 3, 12 (x2) or 48 (x1)"
        )
    unshuffle = _UNSHUFFLE_FOR_CHANNELS[in_ch]
    out_ch = shape(state, "conv_last.weight")[0]
    if out_ch != 3:
        raise LayoutMismatch(f"'conv_last.weight' gives {out_ch} channels; only RGB (3) models are supported")
    num_upsample = len(indices(state, r"conv_up(\d+)\.weight"))
    if 2**num_upsample % unshuffle:
        raise LayoutMismatch(f"{num_upsample} upsampling convs cannot undo a pixel-unshuffle by {unshuffle}")
    blocks = indices(state, r"body\.(\d+)\.rdb1\.conv1\.weight")
    return {
        "num_feat": num_feat,
        "num_block": blocks[-1] + 1 if blocks else 0,
        "num_grow_ch": shape(state, "body.0.rdb1.conv1.weight")[0],
        "scale": 2**num_upsample // unshuffle,
        "num_upsample": num_upsample,
        "unshuffle": unshuffle,
    }


def _detect_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return (
        "conv_first.weight" in state and "conv_body.weight" in state and "body.0.rdb1.conv1.weight" in state
    )


def _convert_basicsr(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    return dict(state), _hyper(state)


def _detect_esrgan(state: Mapping[str, torch.Tensor]) -> bool:
    return "RRDB_trunk.0.RDB1.conv1.weight" in state and "trunk_conv.weight" in state


def _convert_esrgan(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    canonical = rename(
        state,
        [
            (r"RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\.(weight|bias)", r"body.\1.rdb\2.conv\3.\4"),
            (r"trunk_conv\.(weight|bias)", r"conv_body.\1"),
            (r"upconv(\d+)\.(weight|bias)", r"conv_up\1.\2"),
            (r"HRconv\.(weight|bias)", r"conv_hr.\1"),
        ],
    )
    return canonical, _hyper(canonical)


def _detect_esrgan_old(state: Mapping[str, torch.Tensor]) -> bool:
    return "model.0.weight" in state and "model.1.sub.0.RDB1.conv1.0.weight" in state


def _convert_esrgan_old(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    """``model`` is a Sequential: conv, shortcut(trunk), then [upsample, conv, lrelu] per ×2, HR conv,
    lrelu, last conv. The top-level convs after the trunk are, in order, the upconvs, HR and last."""
    trunk_blocks = indices(state, r"model\.1\.sub\.(\d+)\.RDB1\.conv1\.0\.weight")
    num_block = trunk_blocks[-1] + 1 if trunk_blocks else 0
    tail = [i for i in indices(state, r"model\.(\d+)\.weight") if i >= 2]
    if len(tail) < 2:
        raise LayoutMismatch("no HR and last convs after the trunk ('model.N.weight', N ≥ 2)")
    names = {i: f"conv_up{k + 1}" for k, i in enumerate(tail[:-2])}
    names[tail[-2]], names[tail[-1]] = "conv_hr", "conv_last"
    rules = [
        (r"model\.0\.(weight|bias)", r"conv_first.\1"),
        (r"model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)", r"body.\1.rdb\2.conv\3.\4"),
        (rf"model\.1\.sub\.{num_block}\.(weight|bias)", r"conv_body.\1"),
    ]
    rules += [(rf"model\.{i}\.(weight|bias)", rf"{name}.\1") for i, name in names.items()]
    canonical = rename(state, rules)
    return canonical, _hyper(canonical)


LAYOUTS = (
    Layout("rrdb-basicsr", ARCH, _detect_basicsr, _convert_basicsr, "BasicSR / Real-ESRGAN RRDBNet"),
    Layout("rrdb-esrgan", ARCH, _detect_esrgan, _convert_esrgan, "ESRGAN (RRDB_trunk, trunk_conv, HRconv)"),
    Layout("rrdb-esrgan-old", ARCH, _detect_esrgan_old, _convert_esrgan_old, "old ESRGAN (model.N)"),
)
