"""A Hub that failed is remembered for a minute across processes, and the cache is read without it.

The emulator (tests/hub_emulator.py) plays the Hub; stopping it refuses connections like a machine
offline. What is asserted is what a user would see: which file is returned, whether the Hub was
asked at all, and that a second process does not import huggingface_hub's HTTP stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from toy_plugin import TOY_FILE, TOY_REPO, bundled_variant, hub_variant, toy_bytes, toy_card

from genedit_core import hub_memory
from genedit_core.weights import HubUnavailable, hub_download, resolve_weights

IDENTITY, INVERT = toy_bytes("identity"), toy_bytes("invert")


def _endpoint_entry(endpoint: str) -> dict | None:
    path = hub_memory.memory_path()
    return json.loads(path.read_text()).get(endpoint) if path.is_file() else None


def test_the_cache_lookup_agrees_with_huggingface_hub(hub, hermetic_env):
    from huggingface_hub import try_to_load_from_cache

    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "config.json": b"{}"})
    dev = hub.add_commit(TOY_REPO, {TOY_FILE: INVERT}, revision="dev")
    old = hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY, "extra.bin": b"x"}, revision="1" * 40)
    hub_download(TOY_REPO, TOY_FILE)  # main
    hub_download(TOY_REPO, TOY_FILE, "dev")  # a branch: refs/dev is written
    hub_download(TOY_REPO, "extra.bin", old)  # a commit: no ref at all
    cache = str(hermetic_env / "hub")
    cases = [
        (TOY_REPO, TOY_FILE, None),
        (TOY_REPO, TOY_FILE, "main"),
        (TOY_REPO, TOY_FILE, "dev"),
        (TOY_REPO, TOY_FILE, dev),
        (TOY_REPO, "extra.bin", old),
        (TOY_REPO, "extra.bin", None),  # not at main
        (TOY_REPO, "config.json", "dev"),  # never fetched at dev
        (TOY_REPO, TOY_FILE, "2" * 40),  # a commit never fetched
        (TOY_REPO, TOY_FILE, "release"),  # a branch never fetched
        ("someone/else", TOY_FILE, None),
    ]
    found = 0
    for repo_id, filename, revision in cases:
        theirs = try_to_load_from_cache(repo_id, filename, cache_dir=cache, revision=revision)
        ours = hub_memory.cached_hub_file(repo_id, filename, revision, cache)
        assert ours == (Path(theirs) if isinstance(theirs, str) else None), (repo_id, filename, revision)
        found += ours is not None
    assert found == 5
    assert hub_memory.cached_hub_file(TOY_REPO, TOY_FILE, "dev", cache).read_bytes() == INVERT


def test_a_refused_hub_is_remembered_by_the_next_process(bundle, monkeypatch):
    """conftest's endpoint refuses connections: the first process finds out, the second just knows."""
    import os

    card = toy_card(hub_variant(), bundled_variant(bundle(b"bundled bytes")))
    assert resolve_weights(card, None, 2).variant == "bundled"
    endpoint = os.environ["HF_ENDPOINT"]
    assert _endpoint_entry(endpoint)["why"] == hub_memory.UNREACHABLE

    probe = (
        "import sys\n"
        "from genedit_core.weights import HubUnavailable, hub_download\n"
        "try:\n"
        f"    hub_download({TOY_REPO!r}, {TOY_FILE!r})\n"
        "except HubUnavailable as exc:\n"
        "    print(exc)\n"
        "print('imported:', 'huggingface_hub.file_download' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "the Hub is not reachable and the file is not in the local cache" in out
    assert "imported: False" in out


def test_the_hub_is_asked_again_after_it_answers_or_after_a_minute(hub):
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    hub.stop()
    with pytest.raises(HubUnavailable):
        hub_download(TOY_REPO, TOY_FILE)
    assert _endpoint_entry(hub.url)["why"] == hub_memory.UNREACHABLE

    hub.start()
    hub.reset_log()
    with pytest.raises(HubUnavailable):  # back up, but within the minute nobody asks
        hub_download(TOY_REPO, TOY_FILE)
    assert hub.requests() == []

    aged = {hub.url: {"at": time.time() - hub_memory.MEMORY_S - 1, "why": hub_memory.UNREACHABLE}}
    hub_memory.memory_path().write_text(json.dumps(aged))
    path = hub_download(TOY_REPO, TOY_FILE)
    assert path.read_bytes() == IDENTITY and hub.downloads(TOY_FILE) == 1
    assert _endpoint_entry(hub.url) is None  # it answered: forgotten

    hub.reset_log()
    hub_memory.remember_failure(hub.url, hub_memory.UNREACHABLE)
    assert hub_download(TOY_REPO, TOY_FILE) == path  # remembered as away: the cached copy, no request
    assert hub.requests() == []


@pytest.mark.parametrize(
    "content", [b"{", b"[1, 2]", b'{"x": {"at": "soon", "why": "unreachable"}}', b" " * 70000]
)
def test_a_damaged_memory_file_means_ask_the_hub(content):
    path = hub_memory.memory_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    assert hub_memory.recent_failure("x") is None
    hub_memory.remember_failure("y", hub_memory.TIMED_OUT)
    assert hub_memory.recent_failure("y")[0] == hub_memory.TIMED_OUT
