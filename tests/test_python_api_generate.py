"""LoadedModel.generate: the Python form of `genedit generate`, through the plugin's hook."""

from __future__ import annotations

import pytest
import torch

import genedit_core


@pytest.mark.parametrize("name", ["dcgan", "vae"])
def test_generate_is_seeded_and_shaped(name):
    model = genedit_core.load(name, device="cpu", dtype="fp32")
    a = model.generate(seeds=[0, 1, 2])
    b = model.generate(seeds=[2])
    assert a.ndim == 4 and a.shape[0] == 3 and a.dtype == torch.float32
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    diff = float((a[2:3] - b).abs().max())
    assert diff < 1e-4, f"the same seed must give the same image (max diff {diff})"
    assert not torch.allclose(a[0], a[1])
