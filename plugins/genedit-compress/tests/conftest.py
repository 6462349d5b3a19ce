"""Fixtures for the compress tests; the tiny models live in compress_tiny (a unique module name,
so other plugins' conftest modules never shadow them)."""

from __future__ import annotations

from functools import partial

import pytest
from compress_tiny import TinyPlugin

from genedit_core.testing import plugins_installed, run_cli


@pytest.fixture
def plugins():
    import genedit_compress.plugin as compress_plugin

    with plugins_installed(compress=compress_plugin, tinysr=TinyPlugin()) as p:
        yield p


@pytest.fixture
def cli(plugins, capsys, monkeypatch):
    """``genedit ARGS`` in-process with the tiny plugins: (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "200")
    return partial(run_cli, capsys)


@pytest.fixture
def tiny(plugins):
    from genedit_core.api import load

    return load("tiny-edsr", device="cpu", dtype="fp32")


@pytest.fixture
def images(tmp_path_factory):
    """Three small photos-like PNGs: fast calibration and evaluation data for method tests."""
    import numpy as np
    from PIL import Image

    folder = tmp_path_factory.mktemp("images")
    g = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:40] / 40.0
    for i in range(3):
        base = 0.5 + 0.4 * np.sin(3 * yy * (i + 1) + 2 * xx)[..., None] * np.array([1.0, 0.8, 0.6])
        arr = np.clip(base + g.normal(0, 0.05, base.shape), 0, 1)
        Image.fromarray((arr * 255).astype(np.uint8)).save(folder / f"im{i}.png")
    return str(folder)
