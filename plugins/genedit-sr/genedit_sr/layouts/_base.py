"""What every architecture module of :mod:`genedit_sr.layouts` is made of: the :class:`Layout` record,
the error a converter raises, and the key-reading helpers the converters share."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

State = dict[str, torch.Tensor]
Hyper = dict[str, Any]


class LayoutMismatch(ValueError):
    """A detected layout whose tensors cannot describe one of our networks (message without file name)."""


@dataclass(frozen=True)
class Layout:
    """One published way of naming an architecture's weights.

    ``detect`` looks only at the key names and shapes that identify the layout, so it never rejects a
    file of its layout; ``convert`` renames keys to our module's names and reads the hyperparameters
    from tensor shapes, taking from ``config`` (the weights' config.json) only what shapes cannot say.
    """

    name: str
    arch: str
    detect: Callable[[Mapping[str, torch.Tensor]], bool]
    convert: Callable[[Mapping[str, torch.Tensor], Mapping[str, Any]], tuple[State, Hyper]]
    description: str = ""


def indices(state: Mapping[str, Any], pattern: str) -> list[int]:
    """Sorted distinct integers captured by ``pattern`` (one group) over the keys."""
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in state if (m := rx.fullmatch(k))})


def rename(state: Mapping[str, torch.Tensor], rules: list[tuple[str, str]]) -> State:
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


def shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    """The shape of ``state[key]``; a missing key is a :class:`LayoutMismatch` naming it."""
    if key not in state:
        raise LayoutMismatch(f"missing '{key}'")
    return tuple(state[key].shape)


def floats(values: Any) -> list[float]:
    """A tensor, number or sequence as a flat list of Python floats."""
    return [float(v) for v in torch.as_tensor(values, dtype=torch.float64).flatten().tolist()]


def three_convs(state: Mapping[str, torch.Tensor]) -> bool:
    """``conv1``..``conv3`` and no ``conv4``: the key pattern SRCNN and ESPCN share."""
    return all(f"conv{i}.weight" in state for i in (1, 2, 3)) and "conv4.weight" not in state


def conv_sizes(state: Mapping[str, torch.Tensor]) -> tuple[list[int], list[int]]:
    """(features of conv1 and conv2, kernel sizes of conv1..conv3) of a three-conv network."""
    shapes = [shape(state, f"conv{i}.weight") for i in (1, 2, 3)]
    return [shapes[0][0], shapes[1][0]], [s[-1] for s in shapes]
