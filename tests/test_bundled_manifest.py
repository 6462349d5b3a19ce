"""Bundled weights listed from a package's ``weights/manifest.json`` (``sdk.read_weights_manifest``,
``sdk.bundled_variant``): a variant only when its file is installed, and no failure at import time
when the manifest is missing or broken."""

from __future__ import annotations

import json
import sys

from genedit_core.cards import WeightFile
from genedit_core.sdk import bundled_variant, read_weights_manifest


def _package(tmp_path, monkeypatch, name: str, manifest: str | None, files: tuple[str, ...] = ()) -> None:
    weights = tmp_path / name / "weights"
    weights.mkdir(parents=True)
    (tmp_path / name / "__init__.py").write_text("")
    if manifest is not None:
        (weights / "manifest.json").write_text(manifest)
    for f in files:
        (weights / f).write_bytes(b"x")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_variant_only_for_installed_files(tmp_path, monkeypatch):
    entries = {
        "net": {"filename": "net.safetensors", "sha256": "ab" * 32, "config": {"width": 4}},
        "gone": {"filename": "gone.safetensors", "licence": "MIT", "description": "not shipped"},
    }
    _package(tmp_path, monkeypatch, "bundled_pkg_a", json.dumps(entries), ("net.safetensors",))
    manifest = read_weights_manifest("bundled_pkg_a")
    assert manifest == entries
    v = bundled_variant("bundled_pkg_a", manifest["net"], "bundled", description="fallback")
    assert v is not None and v.bundled and v.source == "bundled in bundled_pkg_a"
    assert v.files == {0: WeightFile("weights/net.safetensors", "ab" * 32)} and v.config == {"width": 4}
    assert (v.licence, v.description) == ("Apache-2.0", "fallback")
    assert bundled_variant("bundled_pkg_a", manifest["gone"], "gone") is None


def test_missing_or_broken_manifest_is_empty(tmp_path, monkeypatch):
    _package(tmp_path, monkeypatch, "bundled_pkg_b", None)
    assert read_weights_manifest("bundled_pkg_b") == {}
    _package(tmp_path / "c", monkeypatch, "bundled_pkg_c", "{not json")
    assert read_weights_manifest("bundled_pkg_c") == {}
