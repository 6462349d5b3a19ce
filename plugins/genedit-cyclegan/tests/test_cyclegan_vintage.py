"""The ``vintage`` variant: vintagify's generator read from the installed distribution's files.

``make setup`` installs vintagify without its dependencies (plugins/genedit-cyclegan/
data-requirements.txt: its metadata pulls torchvision); skipped only where it is not installed."""

from __future__ import annotations

from importlib import metadata

import pytest
import torch

import genedit_core
from genedit_core.errors import UsageError

try:
    metadata.distribution("vintagify")
except metadata.PackageNotFoundError:
    pytest.skip("vintagify is not installed", allow_module_level=True)


def test_vintage_loads_by_sha_and_runs_one_way():
    from genedit_cyclegan.build import directed

    model = genedit_core.load("cyclegan", weights="vintage", device="cpu", dtype="fp32")
    assert model.weights.sha256.startswith("c502cd44")
    hp = model.hyperparameters
    assert (hp["ngf"], hp["n_blocks"], hp["affine"]) == (64, 9, True)
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, 64, 64, generator=g), 5, 1, 2)
    with torch.inference_mode():
        y = model(x)
    assert y.shape == x.shape and float(y.min()) >= 0 and float(y.max()) <= 1
    # a restyling, not an inversion: each channel still follows the input's
    for c in range(3):
        assert torch.corrcoef(torch.stack([x[0, c].flatten(), y[0, c].flatten()]))[0, 1] > 0.5
    with pytest.raises(UsageError, match="one generator"):
        directed(model, "b2a")
