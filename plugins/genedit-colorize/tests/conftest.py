"""Fixtures of the colourisation plugin's tests: the plugin installed alone, the CLI in-process."""

from __future__ import annotations

import functools
import json

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


@pytest.fixture
def weights(tmp_path):
    """A 4-feature paints network saved as a weights folder, and the network itself."""
    import torch
    from genedit_colorize.network import PaintsUNet
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = PaintsUNet(features=4).eval()
    folder = tmp_path / "w"
    folder.mkdir()
    save_file(net.state_dict(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"features": 4, "genedit_task": "paints"}))
    return folder, net
