"""Grey in, grey out, unless the card declares the task a colour task (``ModelCard.colour_tasks``).

A sketch-to-image model fed a grey line drawing must return colour; an upscaler fed a grey photo
must return grey. The card says which tasks are which, in a declared field, not a hidden key.
"""

from __future__ import annotations

import numpy as np
import pytest
from inline_plugin import CardsPlugin, passthrough_model

import genedit_core
from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.images import ImageData
from genedit_core.pipeline import apply_all


class Tinter(CardsPlugin):
    """``paint`` and ``shade`` both tint the input orange; only ``paint`` is declared a colour task."""

    def __init__(self) -> None:
        super().__init__(
            ModelCard(
                name="tinter",
                tasks=("paint", "shade"),
                family="test",
                summary="Multiplies RGB by (1, 0.5, 0) (tests only).",
                needs_weights=False,
                colour_tasks=("paint",),
            )
        )

    @hookimpl
    def load_model(self, request):
        import torch

        tint = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
        return passthrough_model(request, lambda x: x * tint, receptive_field=0)

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image)


@pytest.fixture
def tinter(install):
    install(Tinter())
    return genedit_core.load("tinter", device="cpu")


@pytest.mark.parametrize("alpha", [False, True])
def test_a_colour_task_turns_grey_into_colour(tinter, alpha):
    grey = np.full((3, 5, 2 if alpha else 1), 0.8, np.float32)
    (out,) = apply_all(tinter, ImageData(grey), task="paint", tile=None)
    assert out.pixels.shape == (3, 5, 4 if alpha else 3)
    assert np.allclose(out.pixels[..., :3], [0.8, 0.4, 0.0], atol=1e-6)
    if alpha:
        assert np.allclose(out.pixels[..., 3], 0.8)


def test_other_tasks_keep_grey_grey(tinter):
    grey = np.full((3, 5, 1), 0.8, np.float32)
    (out,) = apply_all(tinter, ImageData(grey), task="shade", tile=None)
    assert out.pixels.shape == (3, 5, 1)
    assert np.allclose(out.pixels, 0.4, atol=1e-6)  # the mean of (0.8, 0.4, 0)


class Holes:
    """``fill`` sees the input's alpha: it paints transparent pixels white and returns RGBA, opaque."""

    name = "holes"

    @hookimpl
    def register_models(self, register):
        register(ModelCard(name="holes", tasks=("fill", "keep"), family="test", summary="tests only",
                           needs_weights=False))  # fmt: skip

    @hookimpl
    def load_model(self, request):
        import torch

        from genedit_core.model import LoadedModel

        return LoadedModel(card=request.card, module=None, forward=lambda x: x, device=request.device,
                           dtype=torch.float32, receptive_field=0)  # fmt: skip

    @hookimpl
    def edit(self, request):
        import torch

        if request.task == "keep":
            return request.image
        if request.alpha is None:
            return request.image
        hole = request.alpha < 0.5
        rgb = torch.where(hole, torch.ones_like(request.image), request.image)
        return torch.cat([rgb, torch.ones_like(request.alpha)], dim=1)


def test_edit_hooks_see_the_alpha_and_may_replace_it(install):
    install(Holes())
    model = genedit_core.load("holes", device="cpu")
    rgba = np.full((2, 3, 4), 0.25, np.float32)
    rgba[..., 3] = 1.0
    rgba[0, 0, 3] = 0.0  # one transparent pixel
    (out,) = apply_all(model, ImageData(rgba), task="fill", tile=None)
    assert out.pixels.shape == (2, 3, 4)
    assert np.allclose(out.pixels[0, 0], [1, 1, 1, 1])  # the hole, filled and made opaque
    assert np.allclose(out.pixels[1, 2], [0.25, 0.25, 0.25, 1])
    (kept,) = apply_all(model, ImageData(rgba), task="keep", tile=None)
    assert np.allclose(kept.pixels[..., 3], rgba[..., 3])  # a 3-channel output gets the input's alpha back
    (plain,) = apply_all(model, ImageData(rgba[..., :3].copy()), task="fill", tile=None)
    assert plain.pixels.shape == (2, 3, 3)  # no alpha: request.alpha is None
