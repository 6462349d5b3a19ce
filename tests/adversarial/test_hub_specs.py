"""Hub specs as an attacker writes them: names that leave the cache, and a mirror that answers with paths.

huggingface_hub joins the revision onto ``refs/``, the commit a Hub answers with onto ``snapshots/``
and ``.no_exist/``, and the ETag onto ``blobs/``. Each test builds one such attack against the Hub
emulator (never the network) and asserts: the exit code or exception, one line naming the spec, and
that no file outside the test's HF cache and genedit cache was created, and none outside was opened.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from toy_plugin import TOY_FILE, TOY_REPO, ToyPlugin, hub_variant, sha256, toy_bytes, toy_card

import genedit_core
from genedit_core.cards import WeightFile, WeightVariant
from genedit_core.errors import UsageError, WeightsError
from genedit_core.weights import HubSpec

IDENTITY = toy_bytes("identity")
COMMIT = "0123456789abcdef0123456789abcdef01234567"

# ---- watching the file system ------------------------------------------------------------------------
_opened: list[tuple[str, str]] | None = None
_WATCHED = {"open", "os.mkdir", "os.rename", "os.replace", "os.symlink", "os.link", "os.remove"}


def _audit(event: str, args: tuple) -> None:
    if _opened is not None and event in _WATCHED and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _opened.append((event, os.fsdecode(args[0])))


sys.addaudithook(_audit)  # cannot be removed; it does nothing unless a test is watching


@pytest.fixture
def touched() -> Iterator[list[tuple[str, str]]]:
    """Every path opened, created, renamed or linked by this process while the test runs."""
    global _opened
    _opened = []
    try:
        yield _opened
    finally:
        _opened = None


def _escapes(touched: list[tuple[str, str]], tmp_path: Path) -> list[tuple[str, str]]:
    """Paths touched under the test's folder but outside the HF cache and genedit's cache."""
    allowed = [tmp_path / "hf", tmp_path / "genedit-cache"]
    bad = []
    for event, name in touched:
        path = Path(os.path.abspath(name))
        if path.is_relative_to(tmp_path) and not any(path.is_relative_to(a) for a in allowed):
            bad.append((event, str(path)))
    return bad


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _outside_caches(tmp_path: Path, before: set[Path]) -> list[Path]:
    allowed = [tmp_path / "hf", tmp_path / "genedit-cache"]
    new = _files(tmp_path) - before
    return sorted(p for p in new if not any(p.is_relative_to(a) for a in allowed))


# ---- specs ---------------------------------------------------------------------------------------------
BAD_SPECS = [
    ("hf://o/r/w.safetensors@../../../../outside/secret", "contains '..'"),
    ("hf://o/r@refs/../../x", "contains '..'"),
    ("hf://o/r/w.safetensors@", "revision after '@' is empty"),
    ("hf://o/r/w.safetensors@main\nx", "control character"),
    ("hf://o/r/w.safetensors@ma in", "contains a space"),
    ("hf://o/r/w.safetensors@.hidden", "starts with '.'"),
    ("hf://o/r/w.safetensors@x.lock", ".lock"),
    ("hf://o/r/w.safetensors@a//b", "empty path segment"),
    ("hf://o/r/../../../etc/passwd", "'..' segment"),
    ("hf://o/r/./w.safetensors", "'..' segment"),
    ("hf://o/r//etc/w.safetensors", "is absolute"),
    ("hf://o/r/sub//w.safetensors", "empty path segment"),
    ("hf://o/r/sub\\..\\w.safetensors", "backslash"),
    ("hf://o/r/C:/w.safetensors", "drive letter"),
    ("hf://o/r/w\x1b[2J.safetensors", "control character"),
    ("hf://../r/w.safetensors", "may not start or end"),
    ("hf://-o/r/w.safetensors", "may not start or end"),
    ("hf://o/r./w.safetensors", "may not start or end"),
    ("hf://o/a--b/w.safetensors", "'--'"),
    ("hf://o/r$x/w.safetensors", "may use only"),
    ("hf://o", "expected hf://owner/repo"),
    ("hf:///r/w.safetensors", "expected hf://owner/repo"),
]


@pytest.mark.parametrize(("spec", "needle"), BAD_SPECS)
def test_bad_spec_is_a_one_line_usage_error_before_any_request(hub, install, touched, tmp_path, spec, needle):
    hub.add_commit("o/r", {"w.safetensors": IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    before = _files(tmp_path)

    with pytest.raises(UsageError) as exc:
        genedit_core.load("toy", weights=spec, device="cpu")

    message = str(exc.value)
    assert needle in message
    assert message.startswith("Bad Hub weights spec 'hf://")
    assert "\n" not in message and "\x1b" not in message
    assert hub.requests() == []
    assert _escapes(touched, tmp_path) == []
    assert _outside_caches(tmp_path, before) == []
    assert not (tmp_path / "hf" / "hub").exists()  # not even the cache was created


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("hf://o/r", ("o/r", None, None)),
        ("hf://o/r/", ("o/r", None, None)),
        ("hf://Org.1/r_2-x/sub/w.safetensors@v1.0", ("Org.1/r_2-x", "sub/w.safetensors", "v1.0")),
        ("hf://o/r/w.safetensors@refs/pr/1", ("o/r", "w.safetensors", "refs/pr/1")),
        (f"hf://o/r@{COMMIT}", ("o/r", None, COMMIT)),
        ("hf://o/r/dir with space/w.safetensors", ("o/r", "dir with space/w.safetensors", None)),
    ],
)
def test_good_specs_still_parse(spec, parsed):
    hub = HubSpec.parse(spec)
    assert (hub.repo_id, hub.filename, hub.revision) == parsed


def test_dotdot_revision_offline_reads_nothing_outside_the_cache(
    hub, install, touched, tmp_path, monkeypatch
):
    """The reported attack: offline, refs/<revision> was opened with the revision joined on as it was."""
    bait = tmp_path / "outside" / "secret"
    bait.parent.mkdir()
    bait.write_text(COMMIT)
    install(ToyPlugin(toy_card(hub_variant())))
    touched.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    depth = "../" * 4  # hf/hub/models--o--r/refs -> tmp_path
    spec = f"hf://o/r/w.safetensors@{depth}outside/secret"

    with pytest.raises(UsageError, match="contains '..'"):
        genedit_core.load("toy", weights=spec, device="cpu")

    assert not any(name.endswith("secret") for _, name in touched)
    assert _escapes(touched, tmp_path) == []


def test_dotdot_revision_that_the_mirror_answers_writes_nothing_outside(hub, install, touched, tmp_path, cli):
    """The reported attack, online: a mirror that has that 'branch' would have made refs/<..> a file."""
    revision = "../../../../escaped-ref"
    hub.add_commit("o/r", {"w.safetensors": IDENTITY}, revision=revision)
    assert hub.commit_of("o/r", revision) is not None  # the mirror does answer it
    install(ToyPlugin(toy_card(hub_variant())))
    before = _files(tmp_path)

    result = cli("pull", f"hf://o/r/w.safetensors@{revision}")

    assert result.code == 2, result
    assert len(result.error_lines) == 1 and "contains '..'" in result.error_lines[0]
    assert "Traceback" not in result.err
    assert hub.requests() == []
    assert _outside_caches(tmp_path, before) == []
    assert _escapes(touched, tmp_path) == []


@pytest.mark.parametrize(
    ("repo", "filename", "revision", "needle"),
    [
        ("../evil", TOY_FILE, "main", "may not start or end"),
        ("../../evil", TOY_FILE, "main", "is not owner/name"),
        (TOY_REPO, "../../../../escaped.safetensors", "main", "'..' segment"),
        (TOY_REPO, "/etc/escaped.safetensors", "main", "is absolute"),
        (TOY_REPO, TOY_FILE, "../../../../escaped", "contains '..'"),
    ],
)
def test_a_card_with_bad_hub_names_is_refused_without_a_request(
    hub, install, touched, tmp_path, repo, filename, revision, needle
):
    variant = WeightVariant(
        name="hub", files={2: WeightFile(filename)}, hf_hub_id=repo, revision=revision, licence="test"
    )
    install(ToyPlugin(toy_card(variant)))

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", device="cpu")

    message = str(exc.value)
    assert needle in message and "refused" in message and "\n" not in message
    assert hub.requests() == []
    assert _escapes(touched, tmp_path) == []


@pytest.mark.parametrize(
    ("headers", "needle", "escape"),
    [
        ({"X-Linked-Etag": '"../../../../escaped-blob"'}, "ETag that is not a plain name", "escaped-blob"),
        ({"X-Repo-Commit": "../../../../escaped-commit"}, "commit that is not a 40-hex", "escaped-commit"),
    ],
)
def test_a_mirror_answering_with_paths_is_refused_and_nothing_is_written(
    hub, install, touched, tmp_path, cli, headers, needle, escape
):
    """huggingface_hub names blobs/<etag> and .no_exist/<commit> after the answer without checking it."""
    hub.add_commit(TOY_REPO, {TOY_FILE: IDENTITY})
    hub.header_overrides = headers
    install(ToyPlugin(toy_card(hub_variant())))
    before = _files(tmp_path)

    result = cli("pull", "toy")

    assert result.code == 1, result
    assert len(result.error_lines) == 1, result
    line = result.error_lines[0]
    assert f"hf://{TOY_REPO}/{TOY_FILE}@main" in line and needle in line and "refused" in line
    assert "Traceback" not in result.err
    assert hub.downloads(TOY_FILE) == 0
    assert _outside_caches(tmp_path, before) == []
    assert not any(escape in name for _, name in touched)
    assert _escapes(touched, tmp_path) == []


def test_a_mirror_whose_404_names_a_path_as_commit_is_refused(hub, install, touched, tmp_path):
    """A missing optional file (config.json) is cached as .no_exist/<commit>/<file>: that commit is checked too."""
    commit = hub.add_commit("o/r", {"w.safetensors": IDENTITY})
    install(ToyPlugin(toy_card(hub_variant())))
    spec = f"hf://o/r/w.safetensors@{commit}"
    genedit_core.load("toy", weights=spec, device="cpu")  # the weights are now cached at that commit
    hub.header_overrides = {"X-Repo-Commit": "../../../../escaped-commit"}
    hub.reset_log()
    touched.clear()
    before = _files(tmp_path)

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", weights=spec, device="cpu")

    message = str(exc.value)
    assert message.startswith(f"hf://o/r/config.json@{commit}: refused")
    assert "commit that is not a 40-hex" in message and "\n" not in message
    asked = [r for r in hub.requests() if "/resolve/" in r.path]  # not huggingface_hub's own registry
    assert {r.filename for r in asked} == {"config.json"} and all(r.status == 404 for r in asked)
    assert _outside_caches(tmp_path, before) == []
    assert not any("escaped-commit" in name for _, name in touched)


def test_a_cached_file_that_links_outside_the_cache_is_refused(install, touched, tmp_path, monkeypatch):
    """A pinned commit is answered from the cache; its snapshot entry must still resolve inside it."""
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes(IDENTITY)
    snapshot = tmp_path / "hf" / "hub" / "models--o--r" / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    (snapshot / "w.safetensors").symlink_to(outside)
    install(ToyPlugin(toy_card(hub_variant())))
    touched.clear()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    with pytest.raises(WeightsError) as exc:
        genedit_core.load("toy", weights=f"hf://o/r/w.safetensors@{COMMIT}", device="cpu")

    message = str(exc.value)
    assert "outside the Hub cache" in message and str(outside) in message and "\n" not in message
    assert not (tmp_path / "genedit-cache" / "hub-lock.json").exists()  # nothing recorded for it


def test_a_good_spec_reads_and_writes_only_inside_the_caches(hub, install, touched, tmp_path):
    """The control: the same watch passes a normal download, so the checks above can tell."""
    hub.add_commit("o/r", {"w.safetensors": IDENTITY, "config.json": b"{}"})
    install(ToyPlugin(toy_card(hub_variant())))
    before = _files(tmp_path)

    model = genedit_core.load("toy", weights="hf://o/r/w.safetensors", device="cpu")

    assert model.weights.sha256 == sha256(IDENTITY)
    assert any(Path(n).is_relative_to(tmp_path / "hf" / "hub") for e, n in touched if e == "open")
    assert _escapes(touched, tmp_path) == []
    assert _outside_caches(tmp_path, before) == []
