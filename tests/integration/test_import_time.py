"""``genedit --help``, ``list``, ``info`` and ``plugins`` never import torch, with every installed plugin loaded.

An integration test (tests/integration/): the promise is about the real set (`genedit list` with
genedit-sr, -gan, -vae, -compress, ... all loaded stays light), which no toy can stand in for; each
plugin's own import lightness is also part of its conformance test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers import imported_modules, run_cli, write_distribution

HEAVY = ("torch", "torchvision")


@pytest.mark.parametrize("args", [["list"], ["--help"], ["plugins"], ["info", "bicubic"]])
def test_light_commands_import_no_torch(args):
    result = run_cli(*args, python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    modules = imported_modules(result.stderr)
    assert "genedit_cli.app" in modules and "genedit_core" in modules  # the parse really saw the imports
    assert "torch" not in modules, "torch was imported by: genedit " + " ".join(args)
    assert not any(m.startswith("torch.") for m in modules)


def test_sys_modules_after_list_and_plugins():
    code = """
import json, sys
HEAVY = {heavy!r}
from genedit_cli.app import main
from genedit_core.plugins import get_plugins
for argv in (["list", "--json"], ["plugins", "--json"]):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code == 0, exc.code
infos = {name: info.error for name, info in get_plugins().infos.items()}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
print(json.dumps({"plugins": infos, "heavy": heavy}))
"""
    code = code.replace("{heavy!r}", repr(HEAVY))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "sr" in report["plugins"]
    assert report["heavy"] == []


def test_list_json_is_the_same_without_torch_installed_in_reach(tmp_path):
    """A 'torch' that raises on import shadows the real one: list must still work."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "__init__.py").write_text(
        "raise ImportError('torch must not be imported by genedit list')\n"
    )
    result = run_cli("list", "--json", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    names = {c["name"] for c in json.loads(result.stdout)}
    assert {"bicubic", "edsr"} <= names


def test_the_guard_notices_a_plugin_that_imports_torch(tmp_path):
    """The parse above must be able to fail: a plugin importing torch at top level shows up."""
    site = write_distribution(
        tmp_path,
        "genedit-heavy",
        "0.1",
        {"heavy": "genedit_heavy_plugin"},
        {"genedit_heavy_plugin": "import torch\n"},
    )
    result = run_cli("list", env={"PYTHONPATH": str(site)}, python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "torch" in imported_modules(result.stderr)
