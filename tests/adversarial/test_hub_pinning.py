"""Trust on first use for Hub files: a tampered mirror's bytes are refused, never run.

The Hub emulator plays the mirror. :meth:`HubEmulator.tamper` swaps a file's bytes under the same
commit and name; a new commit on ``main`` plays an upstream change. genedit records each Hub file's
sha256 and commit in ``$GENEDIT_CACHE_DIR/hub-lock.json`` (per test, see conftest) the first time it
is fetched and refuses different bytes later, until ``genedit pull --refresh`` accepts them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch
from toy_plugin import TOY_FILE, TOY_REPO, ToyPlugin, hub_variant, nearest, sha256, toy_bytes, toy_card

import genedit_core
from genedit_core.errors import WeightsError
from genedit_core.weights import accept_new_hub_files, hub_lock_path

IDENTITY, INVERT = toy_bytes("identity"), toy_bytes("invert")
KEY = f"hf://{TOY_REPO}/{TOY_FILE}@main"
X = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))


def _runs_identity(model) -> bool:
    return torch.allclose(model(X), nearest(X), atol=1e-6)


def _lock(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "genedit-cache" / "hub-lock.json").read_text())["files"]


def _fresh_hf_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str) -> None:
    """Another HF cache (a wiped cache, another HF_HOME): the file is downloaded again from the mirror."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / name))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / name / "hub"))


def test_first_fetch_records_sha256_and_commit(hub, install, tmp_path):
    commit = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "config.json": b'{"k": 1}'})
    install(ToyPlugin(toy_card(hub_variant())))

    genedit_core.load("toy", device="cpu")

    assert hub_lock_path() == tmp_path / "genedit-cache" / "hub-lock.json"
    files = _lock(tmp_path)
    assert set(files) == {KEY, f"hf://{TOY_REPO}/config.json@main"}
    assert files[KEY]["sha256"] == sha256(IDENTITY)
    assert files[KEY]["commit"] == commit
    assert files[f"hf://{TOY_REPO}/config.json@main"]["sha256"] == sha256(b'{"k": 1}')


def test_tampered_mirror_is_refused_with_one_line_naming_both_hashes(hub, install, tmp_path, monkeypatch):
    commit = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    assert _runs_identity(genedit_core.load("toy", device="cpu"))
    assert hub.tamper(TOY_REPO, TOY_FILE, INVERT) == commit  # same commit, same name, other bytes
    _fresh_hf_cache(monkeypatch, tmp_path, "hf-2")

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    message = str(exc.value)
    assert "\n" not in message
    assert message.startswith(f"{KEY}: refused")
    assert sha256(INVERT) in message and sha256(IDENTITY) in message
    assert message.count(commit) == 2
    assert f"genedit pull --refresh {KEY}" in message and "hub-lock.json" in message
    assert hub.downloads(TOY_FILE) == 2  # it was fetched, checked, and refused
    assert _lock(tmp_path)[KEY]["sha256"] == sha256(IDENTITY)  # the record is kept


def test_tampered_file_is_refused_by_run_with_exit_1_and_no_output(hub, install, tmp_path, monkeypatch, cli):
    from PIL import Image

    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    assert cli("pull", "toy").code == 0
    hub.tamper(TOY_REPO, TOY_FILE, INVERT)
    _fresh_hf_cache(monkeypatch, tmp_path, "hf-2")
    source = tmp_path / "in.png"
    Image.new("RGB", (4, 4), (10, 20, 30)).save(source)

    result = cli("run", "upscale", "-m", "toy", str(source), "--out-dir", str(tmp_path / "out"))

    assert result.code == 1, result
    assert len(result.error_lines) == 1, result
    assert KEY in result.error_lines[0] and sha256(INVERT) in result.error_lines[0]
    assert "Traceback" not in result.err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_moved_branch_with_other_bytes_is_refused_until_pull_refresh(hub, install, tmp_path, cli):
    old = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    assert cli("pull", "toy").code == 0
    new = hub.add_commit(TOY_REPO, {TOY_FILE: INVERT})  # main moves: an upstream push, or a mirror's

    refused = cli("pull", "toy")
    assert refused.code == 1, refused
    assert len(refused.error_lines) == 1
    assert old in refused.error_lines[0] and new in refused.error_lines[0]
    assert "--refresh" in refused.error_lines[0]

    accepted = cli("pull", "toy", "--refresh")
    assert accepted.code == 0, accepted
    assert f"{KEY}: accepted sha256 {sha256(INVERT)} (was {sha256(IDENTITY)})" in accepted.out
    assert _lock(tmp_path)[KEY] | {"recorded": None} == {
        "sha256": sha256(INVERT),
        "commit": new,
        "recorded": None,
    }
    assert not _runs_identity(genedit_core.load("toy", device="cpu"))  # the accepted bytes now load


def test_same_bytes_at_a_new_commit_are_accepted_and_the_commit_updated(hub, install, tmp_path):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    genedit_core.load("toy", device="cpu")
    new = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "README.md": b"docs only"})

    assert _runs_identity(genedit_core.load("toy", device="cpu"))
    assert _lock(tmp_path)[KEY]["commit"] == new


def test_a_tampered_config_json_is_refused_too(hub, install, tmp_path, monkeypatch):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "config.json": b'{"res_scale": 1}'})
    install(ToyPlugin(toy_card(hub_variant())))
    genedit_core.load("toy", device="cpu")
    hub.tamper(TOY_REPO, "config.json", b'{"res_scale": 9}')
    _fresh_hf_cache(monkeypatch, tmp_path, "hf-2")

    with pytest.raises(WeightsError, match=f"hf://{TOY_REPO}/config.json@main: refused"):
        genedit_core.load("toy", device="cpu")


def test_a_commit_named_spec_is_recorded_and_checked_as_well(hub, install, tmp_path, monkeypatch, cli):
    commit = hub.add_commit("o/r", {"w.safetensors": IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    spec = f"hf://o/r/w.safetensors@{commit}"
    genedit_core.load("toy", weights=spec, device="cpu")
    hub.tamper("o/r", "w.safetensors", INVERT, revision=commit)
    _fresh_hf_cache(monkeypatch, tmp_path, "hf-2")

    with pytest.raises(WeightsError, match="refused"):
        genedit_core.load("toy", weights=spec, device="cpu")
    result = cli("pull", spec, "--refresh")
    assert result.code == 0, result
    assert f"{spec}: accepted sha256 {sha256(INVERT)}" in result.out


def test_a_cards_own_pin_wins_over_the_record(hub, install, tmp_path):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    genedit_core.load("toy", device="cpu")
    hub.add_commit(TOY_REPO, {TOY_FILE: INVERT})
    install(ToyPlugin(toy_card(hub_variant(sha=sha256(INVERT)))))  # the card now pins the new file

    assert not _runs_identity(genedit_core.load("toy", device="cpu"))
    assert _lock(tmp_path)[KEY]["sha256"] == sha256(INVERT)


def test_accept_new_hub_files_reports_what_changed(hub, install):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    genedit_core.load("toy", device="cpu")
    hub.add_commit(TOY_REPO, {TOY_FILE: INVERT})

    with accept_new_hub_files() as changes:
        genedit_core.load("toy", device="cpu")

    assert [(c.key, c.old_sha256, c.new_sha256) for c in changes] == [(KEY, sha256(IDENTITY), sha256(INVERT))]
    with pytest.raises(WeightsError):  # outside the block nothing is accepted: the record holds INVERT now
        hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
        genedit_core.load("toy", device="cpu")


def test_a_damaged_lock_file_is_one_line_naming_it(hub, install, tmp_path):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    lock = tmp_path / "genedit-cache" / "hub-lock.json"
    lock.parent.mkdir()
    lock.write_bytes(b"\x00\x01{not json")

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    message = str(exc.value)
    assert message.startswith(str(lock)) and "delete it" in message and "\n" not in message
    assert lock.read_bytes() == b"\x00\x01{not json"  # never overwritten silently


def test_an_unwritable_lock_folder_costs_a_warning_not_the_load(hub, install, monkeypatch, caplog):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    monkeypatch.setenv("GENEDIT_CACHE_DIR", "/proc/genedit-cannot-exist")  # not creatable, even as root

    with caplog.at_level(logging.WARNING, logger="genedit"):
        model = genedit_core.load("toy", device="cpu")

    assert _runs_identity(model)
    assert any("could not record" in r.getMessage() for r in caplog.records)
