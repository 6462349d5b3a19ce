"""LoadedModel.generate: the Python form of `genedit generate`, through the owning plugin's hook.

A toy generator (each image is noise from its own seed) stands in for a real one: what is tested is
the core's part, seeds reaching the owner's hook in order, options checked first, the result checked.
Real generators' own seeding is checked by each plugin's conformance test.
"""

from __future__ import annotations

import pytest
import torch

import genedit_core
from genedit_core.cards import ModelCard
from genedit_core.errors import UsageError
from genedit_core.sdk import hookimpl


class ToyGenerator:
    name = "toygen"

    def __init__(self) -> None:
        self.requests: list = []

    @hookimpl
    def register_models(self, register):
        register(
            ModelCard(
                name="toygen",
                tasks=("generate",),
                family="toy",
                summary="noise from each seed (tests only)",
                needs_weights=False,
                channels_last=False,
            )
        )

    @hookimpl
    def load_model(self, request):
        from genedit_core.model import LoadedModel

        return LoadedModel(
            card=request.card,
            module=torch.nn.Identity(),
            forward=torch.nn.Identity(),
            device=request.device,
            dtype=request.dtype,
            in_channels=0,
            latent_shape=(4,),
        )

    @hookimpl
    def generate(self, request):
        self.requests.append(request)
        return torch.stack(
            [torch.rand(3, 6, 5, generator=torch.Generator().manual_seed(s)) for s in request.seeds]
        )


def test_generate_is_seeded_and_shaped(install):
    plugin = ToyGenerator()
    install(plugin)
    model = genedit_core.load("toygen", device="cpu", dtype="fp32")
    a = model.generate(seeds=[0, 1, 2])
    b = model.generate(seeds=range(2, 3))
    assert [r.seeds for r in plugin.requests] == [[0, 1, 2], [2]]  # in order, as ints, to the owner
    assert all(r.card.name == "toygen" and r.model is model for r in plugin.requests)
    assert a.ndim == 4 and a.shape == (3, 3, 6, 5) and a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    assert torch.equal(a[2:3], b)
    assert not torch.allclose(a[0], a[1])


def test_generate_refuses_an_option_the_card_does_not_declare_before_the_hook(install):
    plugin = ToyGenerator()
    install(plugin)
    model = genedit_core.load("toygen", device="cpu", dtype="fp32")
    with pytest.raises(UsageError, match="truncation"):
        model.generate(seeds=[0], truncation=0.5)
    assert plugin.requests == []
