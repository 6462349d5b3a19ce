"""``--backend auto`` (issue 19, item 2): the runtime measured fastest here, from an on-disk table.

The toy plugin's upscaler and a toy converting runtime (``toyfast``: it returns ``1 - output``, so
the output alone says which runtime ran) stand in for real models and OpenVINO. The table is
written with the same function ``genedit bench --compare`` uses, in the test's own cache folder.
"""

from __future__ import annotations

import json
import logging
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from toy_plugin import ToyPlugin, nearest, toy_card, toy_state

import genedit_core
from genedit_core import autobackend
from genedit_core.api import GeneditWarning, get_card

X = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(0))

RUNTIME = """
    from dataclasses import replace


    def convert(model):
        inner = model.forward
        return replace(model, forward=lambda x: 1 - inner(x), backend="toyfast")
"""


@pytest.fixture
def toyfast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Installs the converting runtime ``toyfast`` as a ``genedit.backends`` entry point."""
    root = tmp_path / "site"
    info = root / "genedit_toyfast-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genedit-toyfast\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[genedit.backends]\ntoyfast = toyfast_backend\n")
    (root / "toyfast_backend.py").write_text(textwrap.dedent(RUNTIME))
    monkeypatch.syspath_prepend(str(root))


@pytest.fixture
def toy(install, toyfast, tmp_path: Path) -> str:
    """The toy plugin installed; returns a weights file for it."""
    install(ToyPlugin(toy_card()))
    path = tmp_path / "toy.safetensors"
    save_file(toy_state(), str(path))
    return str(path)


def measure(times: dict[str, float], size: tuple[int, int] | None = (40, 48), dtype: str = "fp32") -> dict:
    return autobackend.record_backend_times(get_card("toy"), 2, torch.device("cpu"), dtype, size, times)


def ran_in(model) -> str:
    """Which runtime the output says ran: toyfast inverts the nearest-neighbour upscale."""
    y = model(X)
    if torch.allclose(y, nearest(X), atol=1e-6):
        return "torch"
    assert torch.allclose(y, 1 - nearest(X), atol=1e-6)
    return "toyfast"


def load(weights: str, **kw):
    return genedit_core.load("toy", weights=weights, device="cpu", dtype="fp32", **kw)


def test_without_a_table_auto_is_torch_and_says_why(toy, caplog):
    with caplog.at_level(logging.INFO, logger="genedit.backends"):
        model = load(toy, backend="auto", input_size=(40, 48))
    assert model.backend == "torch" and ran_in(model) == "torch"
    (line,) = [r.getMessage() for r in caplog.records if "backend auto" in r.getMessage()]
    assert line.startswith("backend auto -> torch: no measurement in ")
    assert "the static preference is torch" in line


def test_auto_picks_the_fastest_measured_runtime_and_forcing_still_wins(toy, caplog):
    measure({"torch": 30.0, "toyfast": 10.0})
    with caplog.at_level(logging.INFO, logger="genedit.backends"):
        model = load(toy, backend="auto", input_size=(40, 48))
    assert model.backend == "toyfast" and ran_in(model) == "toyfast"
    assert any("backend auto -> toyfast: fastest measured for" in r.getMessage() for r in caplog.records)
    forced = load(toy, backend="torch", input_size=(40, 48))
    assert forced.backend == "torch" and ran_in(forced) == "torch"
    # another dtype is another measurement: none for bf16, so the static preference
    assert autobackend.resolve_auto(get_card("toy"), 2, "cpu", "bf16", (40, 48)).backend == "torch"


def test_torch_measured_faster_stays_torch(toy):
    measure({"torch": 5.0, "toyfast": 10.0})
    assert load(toy, backend="auto", input_size=(40, 48)).backend == "torch"


def test_a_runtime_no_longer_installed_gives_way_to_the_next_fastest(toy):
    measure({"gone": 1.0, "torch": 20.0, "toyfast": 10.0})
    choice = autobackend.resolve_auto(get_card("toy"), 2, "cpu", "fp32", (40, 48))
    assert choice.backend == "toyfast" and "not installed now: gone" in choice.reason


def test_the_size_bucket_decides_then_the_nearest_then_the_largest(toy):
    measure({"torch": 30.0, "toyfast": 10.0}, size=(40, 60))  # bucket 64
    measure({"torch": 10.0, "toyfast": 30.0}, size=(900, 1000))  # bucket 1024
    card = get_card("toy")

    def pick(size):
        return autobackend.resolve_auto(card, 2, "cpu", "fp32", size).backend

    assert [autobackend.size_bucket(s) for s in [(40, 60), (900, 1000), (65, 3), (5000, 1)]] == [
        "64",
        "1024",
        "128",
        "2048+",
    ]
    assert pick((50, 50)) == "toyfast" and pick((1000, 700)) == "torch"
    assert pick((200, 200)) == "toyfast"  # 256: nearer to 64 than to 1024
    assert pick((2000, 2000)) == "torch"  # 2048: nearer to 1024
    assert pick(None) == "torch"  # size unknown: the largest bucket measured


def test_the_table_is_replaced_atomically_and_keeps_other_entries(toy, monkeypatch):
    measure({"torch": 30.0, "toyfast": 10.0})
    path = autobackend.table_path()
    before = path.read_text()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    real_replace = autobackend.os.replace
    monkeypatch.setattr(autobackend.os, "replace", crash)
    with pytest.raises(OSError):
        measure({"torch": 1.0, "toyfast": 10.0}, size=(900, 900))
    assert path.read_text() == before  # the old table, whole
    left = sorted(p.name for p in path.parent.iterdir())
    assert left == [path.name, path.name + ".lock"]  # no temporary file left (the writers' lock stays)
    monkeypatch.setattr(autobackend.os, "replace", real_replace)
    measure({"torch": 1.0, "toyfast": 10.0}, size=(900, 900))
    entries = json.loads(path.read_text())["entries"]
    assert sorted(e["bucket"] for e in entries.values()) == ["1024", "64"]
    assert {e["winner"] for e in entries.values()} == {"toyfast", "torch"}


@pytest.mark.parametrize("text", ["{not json", '{"version": 99, "entries": {}}', "[1, 2]"])
def test_a_corrupt_table_is_ignored_with_one_warning(toy, text):
    path = autobackend.table_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    autobackend._warned.discard(str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = load(toy, backend="auto", input_size=(40, 48))
        second = load(toy, backend="auto", input_size=(40, 48))
    assert first.backend == second.backend == "torch"
    messages = [str(w.message) for w in caught if issubclass(w.category, GeneditWarning)]
    assert len(messages) == 1 and "\n" not in messages[0]
    assert messages[0].startswith(f"{path}: ignored, ") and "uses torch until" in messages[0]
    # writing measures again replaces the corrupt file
    measure({"torch": 30.0, "toyfast": 10.0})
    assert load(toy, backend="auto", input_size=(40, 48)).backend == "toyfast"


def test_run_defaults_to_auto_records_what_ran_and_says_why_with_verbose(toy, cli, tmp_path):
    from PIL import Image

    from genedit_core.images import read_provenance

    src = tmp_path / "in.png"
    Image.new("RGB", (48, 40), (10, 200, 30)).save(src)
    measure({"torch": 30.0, "toyfast": 10.0}, size=(40, 48))
    r = cli("--verbose", "run", "upscale", "-m", "toy", "--weights", toy, str(src), "-o", "auto.png")
    assert r.code == 0, r.err
    assert read_provenance(tmp_path / "auto.png")["backend"] == "toyfast"
    (why,) = [ln for ln in r.err.splitlines() if "backend auto" in ln]
    assert why.startswith("info: backend auto -> toyfast: fastest measured for toy:toy x2 at fp32 on cpu:")
    r = cli(
        "run", "upscale", "-m", "toy", "--weights", toy, "--backend", "torch", str(src), "-o", "torch.png"
    )
    assert r.code == 0, r.err
    assert read_provenance(tmp_path / "torch.png")["backend"] == "torch"
    # the batch API's default is auto too
    report = genedit_core.run_batch(
        "upscale", [src], model="toy", weights=toy, device="cpu", out_dir=tmp_path / "b"
    )
    assert read_provenance(report.results[0].outputs[0])["backend"] == "toyfast"
