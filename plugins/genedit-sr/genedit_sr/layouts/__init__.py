"""Checkpoint layouts: recognise a state dict, map it onto our networks, infer hyperparameters.

One module per architecture (:mod:`.edsr`, :mod:`.rrdb`, :mod:`.srcnn`, :mod:`.espcn`, :mod:`.vdsr`)
holds its :class:`Layout` records, each a ``detect(state) -> bool`` / ``convert(state, config) ->
(state, hyperparameters)`` pair, next to the network they build (``NETWORK``) and the cards that use
it (``CARDS``). This package puts them in one :class:`LayoutRegistry`, :data:`LAYOUTS`, in the
explicit order of :data:`_MODULES`; :func:`genedit_sr.build.build_network` detects, converts and
loads through it. Adding an architecture is a new module here and one entry in that tuple.

``detect`` looks only at key names and shapes that identify the layout, so it never rejects a file
of its layout; anything else wrong with the file (missing blocks, extra keys, bad shapes) is left to
the strict load, which names the keys. ``convert`` renames keys to the BasicSR-style names our
modules in :mod:`genedit_sr._arch` use, reads sizes from tensor shapes, and takes what shapes cannot
say (EDSR's value range and residual scaling) from ``config``.

Facts about the published layouts are in the model docs; the code here is our own.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from . import edsr, espcn, rrdb, srcnn, vdsr
from ._base import Hyper, Layout, LayoutMismatch, State

__all__ = [
    "ARCHITECTURES",
    "ARCH_FOR_CARD",
    "CARD_FOR_ARCH",
    "LAYOUTS",
    "Hyper",
    "Layout",
    "LayoutMismatch",
    "LayoutRegistry",
    "State",
    "make_module",
]

_MODULES = (edsr, rrdb, srcnn, espcn, vdsr)  # detection order

ARCHITECTURES: dict[str, type[nn.Module]] = {m.ARCH: m.NETWORK for m in _MODULES}
ARCH_FOR_CARD: dict[str, str] = {card: m.ARCH for m in _MODULES for card in m.CARDS}
CARD_FOR_ARCH: dict[str, str] = {m.ARCH: m.CARDS[0] for m in _MODULES}


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


LAYOUTS = LayoutRegistry()
LAYOUTS.add(*(layout for module in _MODULES for layout in module.LAYOUTS))


def make_module(arch: str, hyperparameters: Mapping[str, Any]) -> nn.Module:
    """Our network for ``arch``, from the hyperparameters a converter returned (extra keys ignored).

    Also the constructor trainers use, so bundled weights come out in a layout we load.
    """
    cls = ARCHITECTURES[arch]
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in hyperparameters.items() if k in accepted})
