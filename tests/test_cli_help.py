"""Every command's --help renders (rich markup in a help string once crashed `run --help`)."""

from __future__ import annotations

import pytest
from helpers import run_cli

COMMANDS = ["list", "info", "plugins", "pull", "run", "generate", "train", "eval", "datasets"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_renders(command):
    res = run_cli(command, "--help")
    assert res.returncode == 0, res.stderr
    assert "Usage:" in res.stdout and "Traceback" not in res.stderr
