"""Layer replacements, recorded as plain data so a saved model can be rebuilt without pickles.

Each op names a sub-module by its qualified name and the shape it must have. Replaying the ops on
a freshly built original network gives a module whose ``state_dict`` matches the saved one key for
key, which is what lets a pruned or depthwise model load from safetensors alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ._wrap import set_submodule


class DepthwiseSeparable(nn.Module):
    """A k×k depthwise conv then a 1×1 pointwise conv: ``in·k² + in·out`` weights instead of ``in·out·k²``."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: tuple[int, int],
        stride: tuple[int, int],
        padding: Any,
        dilation: tuple[int, int],
        bias: bool,
        padding_mode: str = "zeros",
    ):
        super().__init__()
        self.dw = nn.Conv2d(
            in_ch,
            in_ch,
            kernel,
            stride,
            padding,
            dilation,
            groups=in_ch,
            bias=False,
            padding_mode=padding_mode,
        )
        self.pw = nn.Conv2d(in_ch, out_ch, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


def resized_conv(conv: nn.Conv2d, in_ch: int, out_ch: int) -> nn.Conv2d:
    groups = conv.groups
    if groups != 1:
        if not (groups == conv.in_channels == conv.out_channels and in_ch == out_ch):
            raise ValueError("only plain or depthwise convs can be resized")
        groups = in_ch
    new = nn.Conv2d(
        in_ch,
        out_ch,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        groups,
        conv.bias is not None,
        conv.padding_mode,
    )
    return new.to(conv.weight.device, conv.weight.dtype)


def resized_conv_transpose(conv: nn.ConvTranspose2d, in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    if conv.groups != 1:
        raise ValueError("only plain transposed convs can be resized")
    new = nn.ConvTranspose2d(
        in_ch,
        out_ch,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.output_padding,
        1,
        conv.bias is not None,
        conv.dilation,
        conv.padding_mode,
    )
    return new.to(conv.weight.device, conv.weight.dtype)


def resized_norm(norm: nn.Module, features: int) -> nn.Module:
    if isinstance(norm, nn.BatchNorm2d):
        new = nn.BatchNorm2d(features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats)
    elif isinstance(norm, nn.InstanceNorm2d):
        new = nn.InstanceNorm2d(features, norm.eps, norm.momentum, norm.affine, norm.track_running_stats)
    elif isinstance(norm, nn.GroupNorm):
        new = nn.GroupNorm(norm.num_groups, features, norm.eps, norm.affine)
    else:
        raise ValueError(f"cannot resize {type(norm).__name__}")
    ref = next(iter(norm.parameters()), None)
    return new.to(ref.device, ref.dtype) if ref is not None else new


def depthwise_from(conv: nn.Conv2d) -> DepthwiseSeparable:
    new = DepthwiseSeparable(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.bias is not None,
        conv.padding_mode,
    )
    return new.to(conv.weight.device, conv.weight.dtype)


def depthwise_op(name: str, conv: nn.Conv2d) -> dict[str, Any]:
    return {"op": "depthwise", "name": name}


def replay(root: nn.Module, ops: list[dict[str, Any]]) -> None:
    """Apply recorded ops in order (weights are loaded afterwards)."""
    for op in ops:
        current = root.get_submodule(op["name"])
        kind = op["op"]
        if kind == "conv" and isinstance(current, nn.ConvTranspose2d):
            set_submodule(root, op["name"], resized_conv_transpose(current, int(op["in"]), int(op["out"])))
        elif kind == "conv":
            set_submodule(root, op["name"], resized_conv(current, int(op["in"]), int(op["out"])))
        elif kind == "norm":
            set_submodule(root, op["name"], resized_norm(current, int(op["features"])))
        elif kind == "depthwise":
            set_submodule(root, op["name"], depthwise_from(current))
        else:
            raise ValueError(f"unknown surgery op '{kind}'")
