"""Weights from the Hub, end to end: genedit_core.load -> resolve_weights -> hf_hub_download -> emulator."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from toy_plugin import (
    TOY_FILE,
    TOY_REPO,
    ToyPlugin,
    bundled_variant,
    hub_variant,
    nearest,
    sha256,
    toy_bytes,
    toy_card,
)

import genedit_core
from genedit_core.api import GeneditWarning
from genedit_core.errors import WeightsError
from genedit_core.weights import resolve_weights

IDENTITY, INVERT = toy_bytes("identity"), toy_bytes("invert")
X = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))


def _kind(model) -> str:
    """Which weights ran, told from the output alone."""
    y = model(X)
    if torch.allclose(y, nearest(X), atol=1e-6):
        return "identity"
    if torch.allclose(y, 1 - nearest(X), atol=1e-6):
        return "invert"
    return "other"


def test_download_lands_in_the_hf_cache_and_runs(hub, install, hermetic_env):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "config.json": b'{"note": "from the hub"}'})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))

    model = genedit_core.load("toy", device="cpu")

    assert _kind(model) == "identity"
    assert model.scale == 2
    assert model.weights.origin == f"hf://{TOY_REPO}/{TOY_FILE}@main"
    assert model.weights.sha256 == sha256(IDENTITY)
    assert model.weights.config == {"note": "from the hub"}
    assert Path(model.weights.path).is_relative_to(hermetic_env / "hub")
    assert Path(model.weights.path).read_bytes() == IDENTITY
    assert hub.downloads(TOY_FILE) == 1
    # Only /resolve, the emulated CDN and the user-agent registry were asked: no Xet endpoint.
    assert all(
        "/resolve/" in r.path or r.path.startswith("/lfs/") or r.path == "/api/agent-harnesses"
        for r in hub.requests()
    )


def test_second_load_reuses_the_cache_without_a_second_download(hub, install):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))

    first = genedit_core.load("toy", device="cpu")
    second = genedit_core.load("toy", device="cpu")

    assert second.weights.path == first.weights.path
    assert hub.downloads(TOY_FILE) == 1
    assert len(hub.requests("GET", TOY_FILE)) == 1


def test_pinned_commit_is_served_and_not_asked_for_again(hub, install):
    old = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    new = hub.add_commit(TOY_REPO, {TOY_FILE: INVERT})  # main now points here
    assert hub.commit_of(TOY_REPO, "main") == new != old
    install(
        ToyPlugin(
            toy_card(hub_variant(revision=old, sha=sha256(IDENTITY))),
            toy_card(hub_variant(revision="main", sha=sha256(INVERT)), name="toy-main"),
        )
    )

    pinned = genedit_core.load("toy", device="cpu")
    latest = genedit_core.load("toy-main", device="cpu")

    assert _kind(pinned) == "identity" and pinned.weights.origin.endswith(f"@{old}")
    assert _kind(latest) == "invert"
    assert pinned.weights.path != latest.weights.path
    hub.reset_log()
    again = genedit_core.load("toy", device="cpu")
    assert _kind(again) == "identity"
    assert hub.requests(filename=TOY_FILE) == []  # a cached commit needs no network at all


def test_sha256_mismatch_is_refused_with_a_clear_message(hub, install):
    hub.add_commit(TOY_REPO, {TOY_FILE: INVERT})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    message = str(exc.value)
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in message
    assert "sha256 mismatch" in message
    assert sha256(IDENTITY)[:12] in message and sha256(INVERT)[:12] in message


def test_offline_mode_uses_a_filled_cache(hub, install, monkeypatch):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))
    genedit_core.load("toy", device="cpu")
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    model = genedit_core.load("toy", device="cpu")

    assert _kind(model) == "identity"
    assert model.weights.sha256 == sha256(IDENTITY)


def test_offline_mode_with_an_empty_cache_says_what_to_do(hub, install, monkeypatch):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    message = str(exc.value)
    assert "genedit pull toy" in message
    assert "--weights" in message
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in message
    assert hub.requests() == []  # offline means no request at all


def test_hub_down_falls_back_to_bundled_weights_with_a_warning(hub, install, bundle):
    package = bundle(INVERT)
    card = toy_card(hub_variant(sha=sha256(IDENTITY)), bundled_variant(package, sha256(INVERT)))
    install(ToyPlugin(card))
    hub.stop()  # connections refused

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = genedit_core.load("toy", device="cpu")

    assert _kind(model) == "invert"
    assert model.weights.variant == "bundled"
    ours = [w for w in caught if issubclass(w.category, GeneditWarning)]
    assert len(ours) == 1
    text = str(ours[0].message)
    assert "toy:bundled" in text and "toy_bundled_x2.safetensors" in text
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in text


def test_hub_down_without_bundled_weights_names_the_fixes(hub, install):
    install(ToyPlugin(toy_card(hub_variant())))
    hub.stop()

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    assert "not reachable" in str(exc.value)
    assert "genedit pull toy" in str(exc.value)


def test_explicit_variant_does_not_fall_back(hub, install, bundle):
    package = bundle(INVERT)
    install(ToyPlugin(toy_card(hub_variant(), bundled_variant(package))))
    hub.stop()

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", weights="hub", device="cpu")
    assert "--weights bundled" in str(exc.value)
    assert _kind(genedit_core.load("toy", weights="bundled", device="cpu")) == "invert"


def test_hub_spec_with_revision_uses_the_default_file_name(hub, install):
    old = hub.add_commit("someone/toy-ft", {"model.safetensors": INVERT, "config.json": b'{"scale": 2}'})
    hub.add_commit("someone/toy-ft", {"model.safetensors": IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))

    model = genedit_core.load("toy", weights=f"hf://someone/toy-ft@{old}", device="cpu")

    assert _kind(model) == "invert"
    assert model.weights.origin == f"hf://someone/toy-ft/model.safetensors@{old}"
    assert model.weights.config == {"scale": 2}
    assert _kind(genedit_core.load("toy", weights="hf://someone/toy-ft", device="cpu")) == "identity"


def test_hub_spec_with_a_file_path(hub, install):
    hub.add_commit("someone/many", {"sub/dir/w.safetensors": INVERT, "sub/dir/config.json": b'{"k": 1}'})
    install(ToyPlugin(toy_card(hub_variant())))

    model = genedit_core.load("toy", weights="hf://someone/many/sub/dir/w.safetensors", device="cpu")

    assert _kind(model) == "invert"
    assert model.weights.origin == "hf://someone/many/sub/dir/w.safetensors@main"
    assert model.weights.config == {"k": 1}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("hf://nobody/missing/w.safetensors", "not found"),
        ("hf://someone/many/none.safetensors", "file not found"),
        ("hf://someone/many/w.safetensors@no-such-branch", "revision"),
        ("hf://someone/many", "no model.safetensors"),
    ],
)
def test_hub_spec_errors_name_the_spec(hub, install, spec, needle):
    hub.add_commit("someone/many", {"w.safetensors": IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", weights=spec, device="cpu")

    message = str(exc.value)
    assert needle in message
    assert message.startswith("hf://")
    assert "\n" not in message


def test_resolve_weights_returns_none_for_weight_free_cards():
    assert resolve_weights(toy_card(), None) is None


def test_pull_command_fills_the_cache_for_offline_use(hub, install, cli, monkeypatch):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(IDENTITY)))))

    result = cli("pull", "toy")

    assert result.code == 0, result
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in result.out
    assert sha256(IDENTITY)[:16] in result.out
    assert hub.downloads(TOY_FILE) == 1
    hub.stop()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert _kind(genedit_core.load("toy", device="cpu")) == "identity"


def test_pull_with_the_hub_down_fails_with_exit_1(hub, install, cli):
    install(ToyPlugin(toy_card(hub_variant())))
    hub.stop()

    result = cli("pull", "toy")

    assert result.code == 1, result
    assert len(result.error_lines) == 1
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in result.error_lines[0]
