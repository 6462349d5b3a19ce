"""Grey in, grey out, unless the card declares the task a colour task (``ModelCard.colour_tasks``).

A sketch-to-image model fed a grey line drawing must return colour; an upscaler fed a grey photo
must return grey. The card says which tasks are which, in a declared field, not a hidden key.
"""

from __future__ import annotations

import numpy as np
import pytest

import genedit_core
from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.images import ImageData
from genedit_core.pipeline import apply_all


class Tinter:
    """``paint`` and ``shade`` both tint the input orange; only ``paint`` is declared a colour task."""

    name = "tinter"

    @hookimpl
    def register_models(self, register):
        register(
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
        if request.card.plugin != self.name:
            return None
        import torch

        from genedit_core.model import LoadedModel

        tint = torch.tensor([1.0, 0.5, 0.0]).view(1, 3, 1, 1)
        return LoadedModel(
            card=request.card,
            module=None,
            forward=lambda x: x * tint,
            device=request.device,
            dtype=torch.float32,
            receptive_field=0,
        )

    @hookimpl
    def edit(self, request):
        if request.card.plugin != self.name:
            return None
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
