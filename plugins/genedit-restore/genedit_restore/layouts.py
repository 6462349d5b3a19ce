"""Checkpoint layouts of the denoising networks: recognise a state dict, map it onto our module,
read the sizes from the shapes.

DnCNN has three published layouts (facts from KAIR's ``network_dncnn.py`` and cszn/DnCNN's PyTorch training
code; the code here is our own):

* ``dncnn-kair``: KAIR's released files (``dncnn_15/25/50.pth``, ``dncnn_color_blind.pth``): batch
  norm folded into the convs, ``model.{0,2,4,...}.weight/bias``, ReLUs at the odd indices.
* ``dncnn-kair-bn``: KAIR before folding: ``model.0`` conv, then per body layer conv ``model.2+3i``,
  BN ``model.3+3i`` (``weight, bias, running_mean, running_var``), ReLU; last conv ``model.2+3(D-2)``.
* ``dncnn-cszn``: cszn/DnCNN's PyTorch model: the same stack named ``dncnn``, with BN, and only the
  first conv has a bias.

``detect`` looks only at the names that tell the layouts apart; ``convert`` renames to our module's
keys (KAIR's) and reads channels, width, depth, BN and biases from the shapes. What the shapes
cannot say (the σ a fixed-σ model was trained for) comes from config.json, for ``genedit info``.

FFDNet has one, KAIR's ``network_ffdnet.py`` (``ffdnet-kair``): ``model.{0,2,...}`` like folded
DnCNN, told apart by the first conv's 4·C + 1 inputs (the unshuffled image and the noise map).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ._arch.dncnn import DnCNN
from ._arch.ffdnet import FFDNet
from ._arch.gated_unet import GatedUNet

State = dict[str, torch.Tensor]

#: Hyperparameters of the tiny network per card, for the conformance check.
TINY: dict[str, dict[str, Any]] = {
    "dncnn": {"channels": 3, "features": 4, "depth": 3},
    "ffdnet": {"channels": 3, "features": 4, "depth": 3},
    "gated-unet": {"features": 2, "dilated": 1},
}


class LayoutMismatch(ValueError):
    """A detected layout whose tensors cannot describe a DnCNN (message without the file name)."""


@dataclass(frozen=True)
class Layout:
    name: str
    detect: Callable[[Mapping[str, torch.Tensor]], bool]
    convert: Callable[[Mapping[str, torch.Tensor]], tuple[State, dict[str, Any]]]
    description: str


def _conv_keys(state: Mapping[str, torch.Tensor], prefix: str) -> list[int]:
    """Indices of the 4-D ``{prefix}.N.weight`` tensors (the convs), in order."""
    rx = re.compile(rf"{re.escape(prefix)}\.(\d+)\.weight")
    return sorted(int(m.group(1)) for k, v in state.items() if (m := rx.fullmatch(k)) and v.dim() == 4)


def _hyper(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, Any]:
    convs = _conv_keys(state, prefix)
    if len(convs) < 2:
        raise LayoutMismatch(f"found {len(convs)} conv layer(s) under '{prefix}.', a DnCNN has at least 2")
    first = state[f"{prefix}.{convs[0]}.weight"]
    bn = f"{prefix}.3.running_mean" in state
    return {
        "channels": int(first.shape[1]),
        "features": int(first.shape[0]),
        "depth": len(convs),
        "bn": bn,
        "body_bias": f"{prefix}.{convs[1]}.bias" in state,
    }


def _first_in(state: Mapping[str, torch.Tensor]) -> int:
    w = state.get("model.0.weight")
    return int(w.shape[1]) if w is not None and w.dim() == 4 else 0


def _kair_detect(state: Mapping[str, torch.Tensor]) -> bool:
    return _first_in(state) in (1, 3) and "model.3.running_mean" not in state


def _kair_bn_detect(state: Mapping[str, torch.Tensor]) -> bool:
    return _first_in(state) in (1, 3) and "model.3.running_mean" in state


def _kair_convert(state: Mapping[str, torch.Tensor]) -> tuple[State, dict[str, Any]]:
    return dict(state), _hyper(state, "model")


def _cszn_detect(state: Mapping[str, torch.Tensor]) -> bool:
    return "dncnn.0.weight" in state


def _cszn_convert(state: Mapping[str, torch.Tensor]) -> tuple[State, dict[str, Any]]:
    renamed = {("model." + k[len("dncnn.") :] if k.startswith("dncnn.") else k): v for k, v in state.items()}
    return renamed, _hyper(renamed, "model")


def _ffdnet_detect(state: Mapping[str, torch.Tensor]) -> bool:
    return _first_in(state) in (5, 13)


def _ffdnet_convert(state: Mapping[str, torch.Tensor]) -> tuple[State, dict[str, Any]]:
    convs = _conv_keys(state, "model")
    if len(convs) < 2:
        raise LayoutMismatch(f"found {len(convs)} conv layer(s) under 'model.', an FFDNet has at least 2")
    first = state["model.0.weight"]
    channels = (int(first.shape[1]) - 1) // 4
    return dict(state), {"channels": channels, "features": int(first.shape[0]), "depth": len(convs)}


def _gated_detect(state: Mapping[str, torch.Tensor]) -> bool:
    return "enc0.feature.weight" in state and "enc0.gate.weight" in state


def _gated_convert(state: Mapping[str, torch.Tensor]) -> tuple[State, dict[str, Any]]:
    rx = re.compile(r"mid\.(\d+)\.feature\.weight")
    dilated = len({m.group(1) for k in state if (m := rx.fullmatch(k))})
    first = state["enc0.feature.weight"]
    if first.ndim != 4 or int(first.shape[1]) not in (4, 7):
        raise LayoutMismatch(
            f"enc0.feature.weight has shape {tuple(first.shape)}; 4 or 7 input channels expected"
        )
    coarse = "blend" if int(first.shape[1]) == 7 else "biharmonic"
    hp = {"features": int(first.shape[0]), "dilated": dilated, "coarse": coarse}
    if "gate_context.weight" in state:
        hp["global_gate"] = True
    return dict(state), hp


#: Layouts per card, in detection order.
LAYOUTS: dict[str, tuple[Layout, ...]] = {
    "dncnn": (
        Layout("dncnn-kair", _kair_detect, _kair_convert, "KAIR, BN folded: model.{0,2,...}"),
        Layout("dncnn-kair-bn", _kair_bn_detect, _kair_convert, "KAIR with batch norm: model.{0,2,3,5,...}"),
        Layout("dncnn-cszn", _cszn_detect, _cszn_convert, "cszn/DnCNN PyTorch: dncnn.{0,2,3,...}"),
    ),
    "ffdnet": (Layout("ffdnet-kair", _ffdnet_detect, _ffdnet_convert, "KAIR: model.{0,2,...}, 4C+1 inputs"),),
    "gated-unet": (
        Layout("gated-unet", _gated_detect, _gated_convert, "genedit's gated U-Net: enc*, mid.N, dec*"),
    ),
}
NETWORK_CARDS = tuple(LAYOUTS)


def find_layout(card: str, state: Mapping[str, torch.Tensor], hint: str | None = None) -> Layout | None:
    """The first layout of ``card`` (``hint`` first) whose ``detect`` accepts ``state``."""
    ordered = sorted(LAYOUTS[card], key=lambda layout: layout.name != hint)
    return next((layout for layout in ordered if layout.detect(state)), None)


def other_card(state: Mapping[str, torch.Tensor], card: str) -> str | None:
    """Another network card whose layouts accept ``state`` (to suggest ``--model``)."""
    return next((c for c in LAYOUTS if c != card and find_layout(c, state) is not None), None)


def make_module(card: str, hyperparameters: Mapping[str, Any]) -> DnCNN | FFDNet | GatedUNet:
    """Our network for ``card`` from hyperparameters (unknown keys ignored); also what trainers build."""
    if card == "gated-unet":
        return GatedUNet(
            **{
                k: hyperparameters[k]
                for k in ("features", "dilated", "out_init", "coarse", "global_gate")
                if k in hyperparameters
            }
        )
    if card == "ffdnet":
        keys: tuple[str, ...] = ("channels", "features", "depth", "sigma")
        return FFDNet(**{k: hyperparameters[k] for k in keys if k in hyperparameters})
    keys = ("channels", "features", "depth", "bn", "body_bias")
    return DnCNN(**{k: hyperparameters[k] for k in keys if k in hyperparameters})
