"""Fixtures of the colourisation plugin's tests: the plugin installed alone, the CLI in-process."""

from __future__ import annotations

import functools

import pytest


@pytest.fixture
def colorize_plugins():
    import genedit_colorize.plugin as colorize_plugin

    from genedit_core.testing import plugins_installed

    with plugins_installed(colorize=colorize_plugin) as p:
        yield p


@pytest.fixture
def cli(colorize_plugins, capsys):
    """``cli(*argv) -> (exit code, stdout, stderr)`` of ``genedit`` run in this process."""
    from genedit_core.testing import run_cli

    return functools.partial(run_cli, capsys)
