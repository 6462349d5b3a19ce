"""Checkpoint layouts: recognise a state dict, map it onto our networks, infer hyperparameters.

Each :class:`Layout` is a ``detect(state) -> bool`` / ``convert(state, config) -> (state,
hyperparameters)`` pair, tried in the explicit order of :data:`LAYOUTS`. ``detect`` looks only at key
names and shapes that identify the layout, so it never rejects a file of its layout; anything else
wrong with the file (missing blocks, extra keys, bad shapes) is left to the strict load in
:func:`build_network`, which names the keys. ``convert`` renames keys to the BasicSR-style names our
modules in :mod:`genedit_sr._arch` use, reads sizes from tensor shapes, and takes what shapes cannot
say (EDSR's value range and residual scaling) from ``config``.

Facts about the published layouts are in the model docs; the code here is our own.
"""

from __future__ import annotations

import inspect
import logging
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genedit_core.errors import UsageError, WeightsError
from genedit_core.model import LoadedModel

from ._arch.edsr import DIV2K_MEAN, EDSR
from ._arch.espcn import ESPCN
from ._arch.rrdb import RRDBNet
from ._arch.srcnn import SRCNN
from ._arch.vdsr import VDSR

log = logging.getLogger("genedit")

State = dict[str, torch.Tensor]
Hyper = dict[str, Any]

ARCHITECTURES: dict[str, type[nn.Module]] = {
    "edsr": EDSR,
    "rrdb": RRDBNet,
    "srcnn": SRCNN,
    "espcn": ESPCN,
    "vdsr": VDSR,
}
ARCH_FOR_CARD = {
    "edsr": "edsr",
    "edsr-baseline": "edsr",
    "realesrgan": "rrdb",
    "srcnn": "srcnn",
    "espcn": "espcn",
    "vdsr": "vdsr",
}
CARD_FOR_ARCH = {"edsr": "edsr", "rrdb": "realesrgan", "srcnn": "srcnn", "espcn": "espcn", "vdsr": "vdsr"}


class LayoutMismatch(ValueError):
    """A detected layout whose tensors cannot describe one of our networks (message without file name)."""


@dataclass(frozen=True)
class Layout:
    name: str
    arch: str
    detect: Callable[[Mapping[str, torch.Tensor]], bool]
    convert: Callable[[Mapping[str, torch.Tensor], Mapping[str, Any]], tuple[State, Hyper]]
    description: str = ""


class LayoutRegistry:
    """Layouts in detection order; names are unique and a failed add leaves the registry unchanged."""

    def __init__(self) -> None:
        self._layouts: list[Layout] = []

    def add(self, *layouts: Layout) -> None:
        names = {layout.name for layout in self._layouts}
        for layout in layouts:
            if layout.name in names:
                raise ValueError(f"checkpoint layout '{layout.name}' is already registered")
            if layout.arch not in ARCHITECTURES:
                raise ValueError(
                    f"checkpoint layout '{layout.name}' names unknown architecture '{layout.arch}'"
                )
            names.add(layout.name)
        self._layouts.extend(layouts)

    def __iter__(self) -> Iterator[Layout]:
        return iter(list(self._layouts))

    def __len__(self) -> int:
        return len(self._layouts)

    def get(self, name: str) -> Layout:
        for layout in self._layouts:
            if layout.name == name:
                return layout
        raise KeyError(name)

    def names(self, arch: str | None = None) -> list[str]:
        return [layout.name for layout in self._layouts if arch is None or layout.arch == arch]

    def find(
        self, state: Mapping[str, torch.Tensor], arch: str | None = None, hint: str | None = None
    ) -> Layout | None:
        """First layout (``hint`` first, if it names one) of ``arch`` whose ``detect`` accepts ``state``."""
        candidates = [layout for layout in self._layouts if arch is None or layout.arch == arch]
        candidates.sort(key=lambda layout: layout.name != hint)  # stable: the hint first, order kept
        return next((layout for layout in candidates if _safe_detect(layout, state)), None)


def _safe_detect(layout: Layout, state: Mapping[str, torch.Tensor]) -> bool:
    try:
        return bool(layout.detect(state))
    except (KeyError, IndexError, AttributeError, TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------- helpers


def _indices(state: Mapping[str, Any], pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (one group) over the keys."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state if (m := rx.fullmatch(k))})


def _rename(state: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]) -> State:
    """Apply the first matching ``(regex, replacement)`` to each key; keys no rule matches stay as
    they are, so the strict load reports them as unexpected."""
    compiled = [(re.compile(p), r) for p, r in rules]
    out: State = {}
    for key, value in state.items():
        for rx, repl in compiled:
            if rx.fullmatch(key):
                key = rx.sub(repl, key)
                break
        out[key] = value
    return out


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise LayoutMismatch(f"missing '{key}'")
    return tuple(state[key].shape)


def _floats(values: Any) -> list[float]:
    return [float(v) for v in torch.as_tensor(values, dtype=torch.float64).flatten().tolist()]


# ---------------------------------------------------------------------------------------------- EDSR


def _edsr_scale(state: Mapping[str, torch.Tensor], conv_keys: list[str], num_feat: int) -> int:
    scale = 1
    for key in conv_keys:
        ratio = _shape(state, key)[0] / num_feat
        factor = math.isqrt(int(ratio))
        if factor * factor != ratio or factor not in (2, 3):
            raise LayoutMismatch(
                f"'{key}' has {_shape(state, key)[0]} outputs, not 4 or 9 × {num_feat} features"
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
    return _floats(torch.diag(w)), _floats(bias)


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
    mean = _floats(config.get("rgb_mean", DIV2K_MEAN))
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


def _detect_edsr_official(state: Mapping[str, torch.Tensor]) -> bool:
    return all(k in state for k in ("head.0.weight", "tail.0.0.weight", "tail.1.weight"))


def _convert_edsr_official(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> tuple[State, Hyper]:
    state = dict(state)
    sub = (state.pop("sub_mean.weight", None), state.pop("sub_mean.bias", None))
    add = (state.pop("add_mean.weight", None), state.pop("add_mean.bias", None))
    num_feat = _shape(state, "head.0.weight")[0]
    blocks = _indices(state, r"body\.(\d+)\.body\.0\.weight")
    num_block = blocks[-1] + 1 if blocks else 0
    ups = _indices(state, r"tail\.0\.(\d+)\.weight")
    scale = _edsr_scale(state, [f"tail.0.{i}.weight" for i in ups], num_feat)
    canonical = _rename(
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


def _detect_edsr_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return "conv_first.weight" in state and "conv_after_body.weight" in state and "conv_last.weight" in state


def _convert_edsr_basicsr(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> tuple[State, Hyper]:
    num_feat = _shape(state, "conv_first.weight")[0]
    blocks = _indices(state, r"body\.(\d+)\.conv1\.weight")
    ups = _indices(state, r"upsample\.(\d+)\.weight")
    scale = _edsr_scale(state, [f"upsample.{i}.weight" for i in ups], num_feat)
    img_range = float(config.get("img_range", 255.0))
    mean = _floats(config.get("rgb_mean", DIV2K_MEAN)) if config.get("mean_shift", True) else [0.0] * 3
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


# ---------------------------------------------------------------------------------------------- RRDBNet


_UNSHUFFLE_FOR_CHANNELS = {3: 1, 12: 2, 48: 4}


def _rrdb_hyper(state: Mapping[str, torch.Tensor]) -> Hyper:
    """Sizes of a state dict already in BasicSR names."""
    num_feat, in_ch = _shape(state, "conv_first.weight")[:2]
    if in_ch not in _UNSHUFFLE_FOR_CHANNELS:
        raise LayoutMismatch(
            f"'conv_first.weight' takes {in_ch} channels; RGB models take 3, 12 (x2) or 48 (x1)"
        )
    unshuffle = _UNSHUFFLE_FOR_CHANNELS[in_ch]
    out_ch = _shape(state, "conv_last.weight")[0]
    if out_ch != 3:
        raise LayoutMismatch(f"'conv_last.weight' gives {out_ch} channels; only RGB (3) models are supported")
    num_upsample = len(_indices(state, r"conv_up(\d+)\.weight"))
    if 2**num_upsample % unshuffle:
        raise LayoutMismatch(f"{num_upsample} upsampling convs cannot undo a pixel-unshuffle by {unshuffle}")
    blocks = _indices(state, r"body\.(\d+)\.rdb1\.conv1\.weight")
    return {
        "num_feat": num_feat,
        "num_block": blocks[-1] + 1 if blocks else 0,
        "num_grow_ch": _shape(state, "body.0.rdb1.conv1.weight")[0],
        "scale": 2**num_upsample // unshuffle,
        "num_upsample": num_upsample,
        "unshuffle": unshuffle,
    }


def _detect_rrdb_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return (
        "conv_first.weight" in state and "conv_body.weight" in state and "body.0.rdb1.conv1.weight" in state
    )


def _convert_rrdb_basicsr(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> tuple[State, Hyper]:
    return dict(state), _rrdb_hyper(state)


def _detect_rrdb_esrgan(state: Mapping[str, torch.Tensor]) -> bool:
    return "RRDB_trunk.0.RDB1.conv1.weight" in state and "trunk_conv.weight" in state


def _convert_rrdb_esrgan(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    canonical = _rename(
        state,
        [
            (r"RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\.(weight|bias)", r"body.\1.rdb\2.conv\3.\4"),
            (r"trunk_conv\.(weight|bias)", r"conv_body.\1"),
            (r"upconv(\d+)\.(weight|bias)", r"conv_up\1.\2"),
            (r"HRconv\.(weight|bias)", r"conv_hr.\1"),
        ],
    )
    return canonical, _rrdb_hyper(canonical)


def _detect_rrdb_esrgan_old(state: Mapping[str, torch.Tensor]) -> bool:
    return "model.0.weight" in state and "model.1.sub.0.RDB1.conv1.0.weight" in state


def _convert_rrdb_esrgan_old(
    state: Mapping[str, torch.Tensor], config: Mapping[str, Any]
) -> tuple[State, Hyper]:
    """``model`` is a Sequential: conv, shortcut(trunk), then [upsample, conv, lrelu] per ×2, HR conv,
    lrelu, last conv. The top-level convs after the trunk are, in order, the upconvs, HR and last."""
    trunk_blocks = _indices(state, r"model\.1\.sub\.(\d+)\.RDB1\.conv1\.0\.weight")
    num_block = trunk_blocks[-1] + 1 if trunk_blocks else 0
    tail = [i for i in _indices(state, r"model\.(\d+)\.weight") if i >= 2]
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
    canonical = _rename(state, rules)
    return canonical, _rrdb_hyper(canonical)


# ---------------------------------------------------------------------------------------------- small nets


def _three_convs(state: Mapping[str, torch.Tensor]) -> bool:
    return all(f"conv{i}.weight" in state for i in (1, 2, 3)) and "conv4.weight" not in state


def _detect_srcnn(state: Mapping[str, torch.Tensor]) -> bool:
    """conv1..conv3 whose output has the input's channels (Y→Y or RGB→RGB)."""
    if not _three_convs(state):
        return False
    c_in = state["conv1.weight"].shape[1]
    return c_in in (1, 3) and state["conv3.weight"].shape[0] == c_in


def _conv_sizes(state: Mapping[str, torch.Tensor]) -> tuple[list[int], list[int]]:
    shapes = [_shape(state, f"conv{i}.weight") for i in (1, 2, 3)]
    return [shapes[0][0], shapes[1][0]], [s[-1] for s in shapes]


def _convert_srcnn(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    features, kernels = _conv_sizes(state)
    return dict(state), {
        "channels": _shape(state, "conv1.weight")[1],
        "features": features,
        "kernels": kernels,
    }


def _detect_espcn(state: Mapping[str, torch.Tensor]) -> bool:
    """conv1..conv3 from RGB to 3·s² channels (s ≥ 2), ready for a pixel shuffle."""
    if not _three_convs(state) or state["conv1.weight"].shape[1] != 3:
        return False
    out = state["conv3.weight"].shape[0]
    s = math.isqrt(out // 3)
    return out % 3 == 0 and s >= 2 and s * s * 3 == out


def _convert_espcn(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    features, kernels = _conv_sizes(state)
    scale = math.isqrt(_shape(state, "conv3.weight")[0] // 3)
    return dict(state), {"scale": scale, "features": features, "kernels": kernels}


def _detect_vdsr(state: Mapping[str, torch.Tensor]) -> bool:
    return "convs.0.weight" in state and "convs.1.weight" in state


def _convert_vdsr(state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> tuple[State, Hyper]:
    layers = _indices(state, r"convs\.(\d+)\.weight")
    num_feat, channels = _shape(state, "convs.0.weight")[:2]
    return dict(state), {"channels": channels, "num_feat": num_feat, "num_layers": layers[-1] + 1}


# ---------------------------------------------------------------------------------------------- registry

LAYOUTS = LayoutRegistry()
LAYOUTS.add(
    Layout(
        "edsr-official",
        "edsr",
        _detect_edsr_official,
        _convert_edsr_official,
        "EDSR-PyTorch names (head/body/tail, sub_mean/add_mean); also super-image's files",
    ),
    Layout(
        "edsr-basicsr",
        "edsr",
        _detect_edsr_basicsr,
        _convert_edsr_basicsr,
        "BasicSR EDSR (conv_first ... conv_last)",
    ),
    Layout(
        "rrdb-basicsr", "rrdb", _detect_rrdb_basicsr, _convert_rrdb_basicsr, "BasicSR / Real-ESRGAN RRDBNet"
    ),
    Layout(
        "rrdb-esrgan",
        "rrdb",
        _detect_rrdb_esrgan,
        _convert_rrdb_esrgan,
        "ESRGAN (RRDB_trunk, trunk_conv, HRconv)",
    ),
    Layout(
        "rrdb-esrgan-old", "rrdb", _detect_rrdb_esrgan_old, _convert_rrdb_esrgan_old, "old ESRGAN (model.N)"
    ),
    Layout("srcnn", "srcnn", _detect_srcnn, _convert_srcnn, "SRCNN conv1..conv3 on Y (or RGB)"),
    Layout("espcn", "espcn", _detect_espcn, _convert_espcn, "ESPCN conv1..conv3 to 3·s² channels"),
    Layout("vdsr", "vdsr", _detect_vdsr, _convert_vdsr, "VDSR convs.0..convs.N"),
)


# ---------------------------------------------------------------------------------------------- building


def make_module(arch: str, hyperparameters: Mapping[str, Any]) -> nn.Module:
    """Our network for ``arch``, from the hyperparameters a converter returned (extra keys ignored).

    Also the constructor trainers use, so bundled weights come out in a layout we load.
    """
    cls = ARCHITECTURES[arch]
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in hyperparameters.items() if k in accepted})


def _few(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(sorted(keys)[:n])
    return shown + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _no_layout_error(
    state: Mapping[str, torch.Tensor], arch: str, origin: str, card_name: str
) -> WeightsError:
    other = LAYOUTS.find(state)
    if other is not None:
        return WeightsError(
            f"{origin}: holds {other.name} weights (network: {other.arch}), not {card_name} weights; "
            f"try --model {CARD_FOR_ARCH[other.arch]}"
        )
    return WeightsError(
        f"{origin}: no {card_name} checkpoint layout matches its keys ({_few(list(state))}); "
        f"known layouts: {', '.join(LAYOUTS.names(arch))}"
    )


def _load_strict(module: nn.Module, state: State, origin: str, layout: Layout) -> None:
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys: {_few(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys: {_few(unexpected)}")
        raise WeightsError(
            f"{origin}: read as {layout.name}, but {'; '.join(parts)} (names after conversion)"
        )
    bad = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if state[k].shape != v.shape
    ]
    if bad:
        raise WeightsError(f"{origin}: read as {layout.name}, but shapes disagree: {_few(bad, 3)}")
    module.load_state_dict(state, strict=True)


def _pick_scale(hp: Hyper, request, config: Mapping[str, Any], origin: str, arch: str) -> int:
    """The weights' own scale when their shapes fix it; else the asked-for one, else config.json's."""
    inferred = hp.get("scale")
    if inferred is not None:
        if request.scale is not None and request.scale != inferred:
            raise UsageError(f"{origin}: weights are x{inferred}, but x{request.scale} was asked for")
        return int(inferred)
    if request.scale is not None:
        return int(request.scale)
    if config.get("scale"):
        return int(config["scale"])
    raise UsageError(f"{origin}: {arch} weights do not fix the scale; pass --scale")


def build_network(request) -> LoadedModel:
    """Detect the layout of ``request.state_dict``, build our network, load it, wrap it."""
    card = request.card
    arch = card.extra.get("arch") or ARCH_FOR_CARD.get(card.name)
    if arch not in ARCHITECTURES:
        raise WeightsError(f"model '{card.name}': the sr plugin has no network for it")
    origin = request.weights.origin if request.weights is not None else card.name
    state = request.state_dict
    if not state:
        raise WeightsError(f"model '{card.name}' needs weights; pass --weights PATH or a variant name")
    config = dict(request.weights.config) if request.weights is not None else {}
    layout = LAYOUTS.find(state, arch, hint=config.get("layout"))
    if layout is None:
        raise _no_layout_error(state, arch, origin, card.name)
    try:
        canonical, hp = layout.convert(state, config)
    except LayoutMismatch as exc:
        raise WeightsError(f"{origin}: read as {layout.name}, but {exc}") from None
    hp["scale"] = _pick_scale(hp, request, config, origin, arch)
    try:
        module = make_module(arch, hp)
    except ValueError as exc:
        raise WeightsError(f"{origin}: read as {layout.name}, but {exc}") from None
    _load_strict(module, canonical, origin, layout)
    module = module.eval().to(device=request.device, dtype=request.dtype)
    if card.channels_last:
        module = module.to(memory_format=torch.channels_last)
    log.debug("%s: %s layout, %s", origin, layout.name, hp)
    return LoadedModel(
        card=card,
        module=module,
        forward=module,
        device=request.device,
        dtype=request.dtype,
        scale=hp["scale"],
        size_multiple=module.size_multiple,
        receptive_field=module.receptive_field,
        weights=request.weights,
        hyperparameters={"layout": layout.name, "arch": arch, **hp},
    )
