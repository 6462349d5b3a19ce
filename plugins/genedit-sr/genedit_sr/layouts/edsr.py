"""EDSR checkpoints: EDSR-PyTorch's names (also super-image's files) and BasicSR's.

Both layouts hold the same network; they differ in key names and in the value range around it. The
range is part of the file's meaning, not of its tensors: EDSR-PyTorch feeds 0–``rgb_range`` with a
mean shift held in ``sub_mean``/``add_mean``, super-image feeds 0–1 without one, BasicSR keeps the
mean outside the state dict. :func:`_edsr_io` turns each into the affine maps our
:class:`~genedit_sr._arch.edsr.EDSR` applies around the network.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from .._arch.edsr import DIV2K_MEAN, EDSR
from ._base import Hyper, Layout, LayoutMismatch, State, floats, indices, rename, shape

ARCH = "edsr"
NETWORK = EDSR
CARDS = ("edsr", "edsr-baseline")  # the first is the one an error message suggests


def _edsr_scale(state: Mapping[str, torch.Tensor], conv_keys: list[str], num_feat: int) -> int:
    scale = 1
    for key in conv_keys:
        ratio = shape(state, key)[0] / num_feat
        factor = math.isqrt(int(ratio))
        if factor * factor != ratio or factor not in (2, 3):
            raise LayoutMismatch(
                f"'{key}' has {shape(state, key)[0]} outputs, not 4 or 9 × {num_feat} features"
            )
        scale *= factor
    if scale == 1:
        raise LayoutMismatch("no upsampling convs found")
    return scale


def _default_res_scale(num_feat: int) -> float:
    """The paper's choice when nothing says otherwise: 0.1 for the 256-feature model, else 1."""
    return 0.1 if num_feat >= 256 else 1.0


def _is_super_image_config(config: Mapping[str, Any]) -> bool:
    """super-image's config.json (``model_type: EDSR``) marks weights whose forward skips the mean shift."""
    return str(config.get("model_type", "")).lower() == "edsr"


def _diag_affine(
    weight: torch.Tensor | None, bias: torch.Tensor | None, name: str
) -> tuple[list[float], list[float]]:
    """Per-channel scale and bias of a 1×1 MeanShift conv; refuses anything but a diagonal map."""
    if weight is None or bias is None:
        raise LayoutMismatch(f"'{name}' needs both weight and bias")
    if tuple(weight.shape) != (3, 3, 1, 1) or tuple(bias.shape) != (3,):
        raise LayoutMismatch(f"'{name}.weight' is {tuple(weight.shape)}, expected a 3×3 1×1-conv")
    w = weight.double().reshape(3, 3)
    if (w - torch.diag(torch.diag(w))).abs().max() > 1e-6:
        raise LayoutMismatch(f"'{name}' mixes colour channels; expected a per-channel mean shift")
    return floats(torch.diag(w)), floats(bias)


def _range_from_mean_shift(sub: tuple | None, mean: list[float]) -> float | None:
    """EDSR-PyTorch's sub_mean bias is -rgb_range·mean/std and its weight 1/std, so a file trained with
    ``--rgb_range 1`` says so itself; ``None`` when the file holds no sub_mean or another mean."""
    if sub is None:
        return None
    w, b = _diag_affine(*sub, "sub_mean")
    ratios = [-bi / (m * wi) for wi, bi, m in zip(w, b, mean) if m and wi]
    if len(ratios) != 3 or min(ratios) <= 0 or max(ratios) - min(ratios) > 1e-3 * max(ratios):
        return None
    return sum(ratios) / 3


def _edsr_io(config: Mapping[str, Any], sub: tuple | None, add: tuple | None) -> Hyper:
    """Input/output affine maps around the network, in genedit's 0–1 convention.

    Official EDSR-PyTorch: inputs are 0–``rgb_range`` and the MeanShift convs in the file subtract and
    re-add ``rgb_range·mean``. super-image: same names, but 0–1 input and no mean shift. A file with
    the official names and no config.json gets the official semantics.
    """
    mean_shift = config.get("mean_shift")
    if mean_shift is None:
        mean_shift = not _is_super_image_config(config)
    if not mean_shift:
        r = float(config.get("input_range", 1.0))
        return {
            "semantics": f"0-{r:g} input, no mean shift (super-image)",
            "in_scale": [r] * 3,
            "in_bias": [0.0] * 3,
            "out_scale": [1 / r] * 3,
            "out_bias": [0.0] * 3,
        }
    mean = floats(config.get("rgb_mean", DIV2K_MEAN))
    rgb_range = float(config.get("rgb_range") or _range_from_mean_shift(sub, mean) or 255)
    if sub is not None:
        w, b = _diag_affine(*sub, "sub_mean")
        in_scale, in_bias = [rgb_range * v for v in w], b
    else:
        in_scale, in_bias = [rgb_range] * 3, [-rgb_range * m for m in mean]
    if add is not None:
        w, b = _diag_affine(*add, "add_mean")
        out_scale, out_bias = [v / rgb_range for v in w], [v / rgb_range for v in b]
    else:
        out_scale, out_bias = [1 / rgb_range] * 3, mean
    return {
        "semantics": f"0-{rgb_range:g} input, mean shift (EDSR-PyTorch)",
        "in_scale": in_scale,
        "in_bias": in_bias,
        "out_scale": out_scale,
        "out_bias": out_bias,
    }


def _detect_official(state: Mapping[str, torch.Tensor]) -> bool:
    return all(k in state for k in ("head.0.weight", "tail.0.0.weight", "tail.1.weight"))


def _convert_official(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    state = dict(state)
    sub = (state.pop("sub_mean.weight", None), state.pop("sub_mean.bias", None))
    add = (state.pop("add_mean.weight", None), state.pop("add_mean.bias", None))
    num_feat = shape(state, "head.0.weight")[0]
    blocks = indices(state, r"body\.(\d+)\.body\.0\.weight")
    num_block = blocks[-1] + 1 if blocks else 0
    ups = indices(state, r"tail\.0\.(\d+)\.weight")
    scale = _edsr_scale(state, [f"tail.0.{i}.weight" for i in ups], num_feat)
    canonical = rename(
        state,
        [
            (r"head\.0\.(weight|bias)", r"conv_first.\1"),
            (r"body\.(\d+)\.body\.0\.(weight|bias)", r"body.\1.conv1.\2"),
            (r"body\.(\d+)\.body\.2\.(weight|bias)", r"body.\1.conv2.\2"),
            (rf"body\.{num_block}\.(weight|bias)", r"conv_after_body.\1"),
            (r"tail\.0\.(\d+)\.(weight|bias)", r"upsample.\1.\2"),
            (r"tail\.1\.(weight|bias)", r"conv_last.\1"),
        ],
    )
    io = _edsr_io(
        config,
        None if sub[0] is None and sub[1] is None else sub,
        None if add[0] is None and add[1] is None else add,
    )
    hp = {
        "num_feat": num_feat,
        "num_block": num_block,
        "scale": scale,
        "res_scale": float(config.get("res_scale", _default_res_scale(num_feat))),
        **io,
    }
    return canonical, hp


def _detect_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return "conv_first.weight" in state and "conv_after_body.weight" in state and "conv_last.weight" in state


def _convert_basicsr(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    num_feat = shape(state, "conv_first.weight")[0]
    blocks = indices(state, r"body\.(\d+)\.conv1\.weight")
    ups = indices(state, r"upsample\.(\d+)\.weight")
    scale = _edsr_scale(state, [f"upsample.{i}.weight" for i in ups], num_feat)
    img_range = float(config.get("img_range", 255.0))
    mean = floats(config.get("rgb_mean", DIV2K_MEAN)) if config.get("mean_shift", True) else [0.0] * 3
    hp = {
        "num_feat": num_feat,
        "num_block": blocks[-1] + 1 if blocks else 0,
        "scale": scale,
        "res_scale": float(config.get("res_scale", _default_res_scale(num_feat))),
        "semantics": f"BasicSR: (x - mean) × {img_range:g}",
        "in_scale": [img_range] * 3,
        "in_bias": [-img_range * m for m in mean],
        "out_scale": [1 / img_range] * 3,
        "out_bias": mean,
    }
    return dict(state), hp


LAYOUTS = (
    Layout(
        "edsr-official",
        ARCH,
        _detect_official,
        _convert_official,
        "EDSR-PyTorch names (head/body/tail, sub_mean/add_mean); also super-image's files",
    ),
    Layout(
        "edsr-basicsr", ARCH, _detect_basicsr, _convert_basicsr, "BasicSR EDSR (conv_first ... conv_last)"
    ),
)
