"""A plugin's exception costs one file and one line, never the batch, and never shows a traceback.

A toy plugin raises a plain Python exception (not a GeneditError) on one file of a batch, or in
its other hooks. The line must name the plugin, the model and the file; the files after it must be
done; ``--debug`` (or ``GENEDIT_DEBUG=1``) must show the traceback. Anything unforeseen anywhere
is the last boundary's one line ``error: unexpected ... (run with --debug for the traceback)``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from inline_plugin import CardsPlugin, passthrough_model
from PIL import Image
from toy_plugin import ResizePlugin, toy_site

from genedit_core import hookimpl
from genedit_core.cards import ModelCard

HINT = "(run with --debug for the traceback)"


def png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (4, 6, 3), dtype=np.uint8)).save(path)
    return path


class Fragile(CardsPlugin):
    """A weight-free ``retouch`` model (returns its input) whose hooks raise what a test asks for:
    ``edit`` on call number ``fail_on``, ``load_model`` and ``train`` whenever set."""

    def __init__(self) -> None:
        super().__init__(
            ModelCard(name="fragile", tasks=("retouch",), family="test", summary="tests", needs_weights=False)
        )
        self.calls = 0
        self.fail_on: int | None = None
        self.edit_error: BaseException | None = None
        self.load_error: BaseException | None = None
        self.train_error: BaseException | None = None

    @hookimpl
    def load_model(self, request):
        if self.load_error is not None:
            raise self.load_error
        return passthrough_model(request)

    @hookimpl
    def edit(self, request):
        self.calls += 1
        if self.calls == self.fail_on:
            raise self.edit_error
        return request.tiler(request.model, request.image)

    @hookimpl
    def train(self, request):
        raise self.train_error


@pytest.fixture
def fragile(install):
    plugin = Fragile()
    install(plugin)
    return plugin


@pytest.fixture
def batch(tmp_path):
    files = [png(tmp_path / "in" / f"{i}.png", seed=i) for i in range(3)]
    return {f: f.read_bytes() for f in files}


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ValueError("bad value"), "ValueError: bad value"),
        (KeyError("missing"), "KeyError: 'missing'"),
        (RuntimeError("kaput\nsecond line"), "RuntimeError: kaput"),
        (SystemExit(3), "SystemExit: 3"),
    ],
)
def test_an_exception_in_edit_costs_one_file_and_one_line(fragile, batch, cli, tmp_path, error, shown):
    fragile.fail_on, fragile.edit_error = 2, error

    result = cli("run", "retouch", "-m", "fragile", "in")

    assert result.code == 1
    assert result.error_lines == [
        f"error: in/1.png: plugin 'fragile' failed in its edit hook for model 'fragile': {shown}"
    ]
    assert "Traceback" not in result.err + result.out
    assert fragile.calls == 3  # the file after the failure was done
    outputs = sorted(p.name for p in (tmp_path / "results").iterdir())
    assert outputs == ["0_fragile_retouch.png", "2_fragile_retouch.png"]
    assert all(f.read_bytes() == data for f, data in batch.items())


@pytest.mark.parametrize("how", ["flag", "env"])
def test_debug_shows_the_traceback_and_still_the_one_line(fragile, batch, cli, monkeypatch, how):
    fragile.fail_on, fragile.edit_error = 1, ValueError("bad value")
    if how == "env":
        monkeypatch.setenv("GENEDIT_DEBUG", "1")
    args = ("--debug",) if how == "flag" else ()

    result = cli(*args, "run", "retouch", "-m", "fragile", "in")

    assert result.code == 1
    assert result.err.count("Traceback (most recent call last)") == 2  # the plugin's, then ours
    assert "raise self.edit_error" in result.err and "\nValueError: bad value\n" in result.err
    assert len(result.error_lines) == 1 and "in/0.png: plugin 'fragile'" in result.error_lines[0]


def test_without_debug_the_env_variable_off_shows_no_traceback(fragile, batch, cli, monkeypatch):
    monkeypatch.setenv("GENEDIT_DEBUG", "0")
    fragile.fail_on, fragile.edit_error = 1, ValueError("bad value")
    result = cli("run", "retouch", "-m", "fragile", "in")
    assert result.code == 1 and "Traceback" not in result.err


def test_an_exception_while_loading_names_plugin_and_model(fragile, batch, cli, tmp_path):
    fragile.load_error = AttributeError("'NoneType' object has no attribute 'shape'")
    result = cli("run", "retouch", "-m", "fragile", "in")
    assert result.code == 1
    assert result.error_lines == [
        "error: plugin 'fragile' failed in its load_model hook for model 'fragile': "
        "AttributeError: 'NoneType' object has no attribute 'shape'"
    ]
    assert "Traceback" not in result.err and not (tmp_path / "results").exists()


def test_an_exception_in_train_names_plugin_and_model(fragile, cli, tmp_path):
    fragile.train_error = KeyError("lr")
    result = cli("train", "fragile", "--out", "runs/x")
    assert result.code == 1
    assert result.error_lines == [
        "error: plugin 'fragile' failed in its train hook for model 'fragile': KeyError: 'lr'"
    ]
    assert "Traceback" not in result.err


def test_an_unforeseen_error_anywhere_is_one_line(install, cli, monkeypatch, tmp_path):
    """The last boundary, in main(): a bug in genedit's own code is still no traceback."""
    import genedit_cli.running

    def broken(**kwargs):
        return {}["no such key"]

    install(ResizePlugin())
    monkeypatch.setattr(genedit_cli.running, "run_batch", broken)
    png(tmp_path / "a.png", seed=0)
    result = cli("run", "upscale", "-m", "resize", "a.png")
    assert result.code == 1
    assert result.err == f"error: unexpected KeyError: 'no such key' {HINT}\n"

    debug = cli("--debug", "run", "upscale", "-m", "resize", "a.png")
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.err
    assert debug.err.endswith(f"error: unexpected KeyError: 'no such key' {HINT}\n")


def test_the_real_entry_point_shows_no_traceback(tmp_path):
    """The console script's process, not an in-process call: stderr is the one line, exit 1."""
    code = (
        "import sys, genedit_cli.running as r\n"
        "def broken(**kw): raise ZeroDivisionError('division by zero')\n"
        "r.run_batch = broken\n"
        "from genedit_cli.app import main\n"
        "main(sys.argv[1:])\n"
    )
    png(tmp_path / "a.png", seed=0)
    env = {**toy_site(tmp_path / "toy-site"), "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "upscale", "-m", "resize", "a.png"],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr == f"error: unexpected ZeroDivisionError: division by zero {HINT}\n"
