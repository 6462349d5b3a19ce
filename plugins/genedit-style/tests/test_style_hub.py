"""The ``vgg19`` feature card against the Hub emulator (tests/hub_emulator.py): it fetches the
pinned commit of timm/vgg19.tv_in1k, never what ``main`` points to now."""

from __future__ import annotations

import sys
from pathlib import Path

import genedit_style.plugin
import pytest
import torch
from genedit_style.cards import VGG19_HUB, VGG19_REVISION
from safetensors.torch import save

from genedit_core.sdk import load
from genedit_core.testing import plugins_installed

REPO = Path(__file__).resolve().parents[3]
VGG19_CONVS = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from hub_emulator import HubEmulator
    except ImportError:
        pytest.skip("tests/hub_emulator.py is not available")
    finally:
        sys.path.remove(str(REPO / "tests"))
    emulator = HubEmulator().start()
    monkeypatch.setenv("HF_ENDPOINT", emulator.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "genedit-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        yield emulator
    finally:
        emulator.stop()


def _tiny_vgg19(width: int) -> bytes:
    """A VGG19-layout file (timm's names, classifier head included) whose convs are all ``width`` wide."""
    state, cin = {}, 3
    for i in VGG19_CONVS:
        state[f"features.{i}.weight"] = torch.full((width, cin, 3, 3), 0.01)
        state[f"features.{i}.bias"] = torch.zeros(width)
        cin = width
    state["head.fc.weight"], state["head.fc.bias"] = torch.zeros(2, width), torch.zeros(2)
    return save(state)


def test_the_vgg19_card_is_pinned_to_a_commit():
    assert VGG19_HUB.hf_hub_id == "timm/vgg19.tv_in1k"
    assert len(VGG19_REVISION) == 40 and int(VGG19_REVISION, 16) >= 0
    assert VGG19_HUB.revision == VGG19_REVISION and VGG19_HUB.source.endswith(f"@{VGG19_REVISION}")


def test_vgg19_loads_the_pinned_commit_not_main(hub):
    repo = "timm/vgg19.tv_in1k"
    hub.add_commit(repo, {"model.safetensors": _tiny_vgg19(4)}, VGG19_REVISION)
    hub.add_commit(repo, {"model.safetensors": _tiny_vgg19(6)}, "main")  # a newer file on main
    with plugins_installed(style=genedit_style.plugin):
        model = load("gatys", weights="vgg19", device="cpu", dtype="fp32")
    assert model.module.blocks == (2, 2, 4, 4, 4)
    assert model.module.features[0].weight.shape[0] == 4  # the pinned file, not main's 6-wide one
    assert VGG19_REVISION in model.weights.origin  # provenance names the commit
    asked = {r.revision for r in hub.log if r.revision}  # the CDN's GETs carry no revision
    assert asked == {VGG19_REVISION}
