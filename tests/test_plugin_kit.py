"""The author kit: ``genedit plugin new`` writes a package that lints clean, passes the conformance
check unchanged, installs without the network and works with ``genedit list/plugins/run``.

The templates are tested as an author gets them: written by the real command, imported from the
folder (in process, per kind of task), and once installed with pip into a throwaway target folder
(the venv stays as it was) and driven through the ``genedit`` executable.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genedit_core.testing import check_plugin, plugins_installed

BIN = Path(sys.executable).parent


def new_plugin(capsys, *args: str) -> tuple[int, str, str]:
    from genedit_cli.app import main

    with pytest.raises(SystemExit) as done:
        main(["plugin", "new", *args])
    captured = capsys.readouterr()
    return done.value.code, captured.out, captured.err


def import_plugin(folder: Path, module: str, monkeypatch):
    monkeypatch.syspath_prepend(str(folder))
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    plugin = importlib.import_module(f"{module}.plugin")
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, sys.modules[name])  # forgotten after the test
    return plugin


@pytest.mark.parametrize("task", ["upscale", "generate", "denoise"])
def test_a_fresh_plugin_lints_clean_and_passes_conformance(task, tmp_path, capsys, monkeypatch):
    name = f"kit-{task}"
    code, out, _ = new_plugin(capsys, name, "--task", task, "--dir", str(tmp_path))
    assert code == 0
    folder = tmp_path / f"genedit-{name}"
    module = f"genedit_kit_{task}"
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert written == sorted(
        [
            "README.md",
            "pyproject.toml",
            f"tests/test_kit_{task}_conformance.py",
            *(f"{module}/{f}" for f in ("__init__.py", "cards.py", "network.py", "plugin.py")),
        ]
    )
    assert f'{name} = "{module}.plugin"' in (folder / "pyproject.toml").read_text()
    assert f"wrote {folder}" in out
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "E,F,W,I,B,UP,SIM", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    plugin = import_plugin(folder, module, monkeypatch)
    check_plugin(plugin, tmp_path / "work", name=name)


def test_without_weights_the_templates_do_what_their_cards_say(tmp_path, capsys, monkeypatch):
    import torch

    import genedit_core

    for task in ("upscale", "generate", "denoise"):
        assert new_plugin(capsys, f"bare-{task}", "--task", task, "--dir", str(tmp_path))[0] == 0
    plugins = {
        f"bare-{t}": import_plugin(tmp_path / f"genedit-bare-{t}", f"genedit_bare_{t}", monkeypatch)
        for t in ("upscale", "generate", "denoise")
    }
    x = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    with plugins_installed(**plugins):
        up = genedit_core.load("bare-upscale", scale=3, device="cpu").module(x)
        assert torch.equal(up, x.repeat_interleave(3, 2).repeat_interleave(3, 3))  # nearest neighbour
        same = genedit_core.load("bare-denoise", device="cpu").module(x)
        assert torch.equal(same, x)  # the identity until trained
        generator = genedit_core.load("bare-generate", device="cpu")
        images = generator.generate([0, 1])
        assert images.shape == (2, 3, 64, 64)
        assert (images[0] - images[1]).abs().mean() > 0.01  # one pattern per seed
        # the declared example option, and genedit's own interpolation, reach the hook
        flat = generator.generate([0, 1], temperature=0.0)
        assert torch.equal(flat[0], flat[1])  # z = 0 for every seed
        frames = generator.generate([0, 1], interpolate=(0, 1), steps=3)
        assert frames.shape == (3, 3, 64, 64)
        assert torch.allclose(frames[0], images[0], atol=1e-6) and torch.allclose(
            frames[2], images[1], atol=1e-6
        )
        with pytest.raises(
            genedit_core.GeneditError, match="unknown option --temprature; did you mean --temperature"
        ):
            generator.generate([0], temprature=0.5)


def test_plugin_new_never_touches_an_existing_folder(tmp_path, capsys):
    (tmp_path / "genedit-taken").mkdir()
    (tmp_path / "genedit-taken" / "mine.txt").write_text("keep")
    code, out, err = new_plugin(capsys, "taken", "--dir", str(tmp_path))
    assert code == 2
    assert err.strip().count("\n") == 0 and "already exists" in err and "genedit-taken" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genedit-taken"]  # no half-written folder
    assert [p.name for p in (tmp_path / "genedit-taken").iterdir()] == ["mine.txt"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["Bad_Name"], "NAME 'Bad_Name'"),
        (["genedit-thing"], "give the short name ('thing')"),
        (["thing", "--task", "Up Scale"], "--task 'Up Scale'"),
    ],
)
def test_plugin_new_refuses_bad_names_in_one_line(tmp_path, capsys, args, says):
    code, _, err = new_plugin(capsys, *args, "--dir", str(tmp_path))
    assert code == 2
    assert says in err and err.strip().count("\n") == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_an_installed_template_works_with_the_genedit_command(tmp_path):
    """pip-install a fresh template (no network, into a target folder) and use it like a user."""
    env = {k: v for k, v in os.environ.items() if k not in ("GENEDIT_LOAD_PLUGINS", "PYTHONPATH")}
    env["COLUMNS"] = "200"

    def run(*args: str, cwd: Path = tmp_path) -> str:
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc.stdout

    run(str(BIN / "genedit"), "plugin", "new", "kitup", "--task", "upscale")
    site = tmp_path / "site"
    run(
        sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
        "--target", str(site), str(tmp_path / "genedit-kitup"),
    )  # fmt: skip
    env["PYTHONPATH"] = str(site)
    listed = run(str(BIN / "genedit"), "list", "kitup")
    assert "kitup" in listed and "upscale" in listed
    plugins = run(str(BIN / "genedit"), "plugins", "--json")
    assert '"name": "kitup"' in plugins and '"distribution": "genedit-kitup"' in plugins
    pixels = np.random.default_rng(0).integers(0, 256, (6, 9, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    run(str(BIN / "genedit"), "run", "upscale", "--model", "kitup", "in.png", "-o", "out.png")
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out, pixels.repeat(2, 0).repeat(2, 1))
    # The template's own tests, unchanged, against the installed entry point.
    tests = run(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path / "genedit-kitup"
    )
    assert "3 passed" in tests
