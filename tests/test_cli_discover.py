"""Finding things: a compact `genedit list` with a name filter, tasks in `run --help`, every builtin set.

The listings are checked at 80 columns (``COLUMNS=80``, a subprocess so the console really has that
width), where the old per-task tables took 161 lines and cut dataset names.
"""

from __future__ import annotations

import json

import pytest
from helpers import imported_modules, run_cli

from genedit_core.datasets import SampleSet, sample_sets
from genedit_core.plugins import get_plugins


def _rows(stdout: str) -> dict[str, str]:
    """Table rows by model name: a line that starts with a name begins that model's row."""
    names = {c.name for c in get_plugins().registry.list()}
    rows: dict[str, str] = {}
    current = None
    for line in stdout.splitlines()[1:]:  # the header
        first = line.split(" ", 1)[0]
        if first in names:
            assert first not in rows, f"{first} listed twice:\n{stdout}"
            current = first
            rows[current] = line
        elif current is not None:
            rows[current] += " " + line.strip()
    return rows


def test_list_is_one_compact_row_per_model_at_80_columns():
    result = run_cli("list", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    cards = get_plugins().registry.list()
    rows = _rows(result.stdout)
    assert set(rows) == {c.name for c in cards}
    assert result.stdout.splitlines()[0].split() == ["model", "tasks", "plugin", "weights"]
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert len(result.stdout.splitlines()) <= 2 * len(cards) + 1
    # a multi-task model is one row that names all its tasks
    vae = rows["vae"].replace(",", " ").split()
    assert {"generate", "reconstruct", "interpolate", "traverse", "digits*"} <= set(vae)
    assert "upscale x2,3,4,8" in rows["bicubic"] and "none needed" in rows["bicubic"]
    assert "needs --weights" in rows["vdsr"]


def test_list_says_which_listed_scales_have_no_weights():
    """espcn lists x3 but ships weights for x2 and x4 only; the row says so, and so does info."""
    result = run_cli("list", "espcn", env={"COLUMNS": "80"})
    row = " ".join(_rows(result.stdout)["espcn"].split())
    assert "bundled* x2,4; no weights for x3" in row
    assert "srcnn" not in result.stdout
    info = run_cli("info", "espcn")
    assert "no weights shipped for: x3" in info.stdout
    assert "no weights shipped" not in run_cli("info", "edsr").stdout


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*esr*", {"realesrgan"}),  # name or alias (esrgan, real-esrgan)
        ("EDSR", {"edsr", "edsr-baseline"}),  # a plain word matches anywhere, any case
        ("rrdb*", {"realesrgan"}),  # through an alias
        ("?ae", {"vae"}),
    ],
)
def test_list_name_filter(cli, pattern, expected):
    listed = json.loads(cli("list", pattern, "--json").out)
    assert {c["name"] for c in listed} == expected


def test_list_filter_without_match_and_wide(cli):
    none = cli("list", "*nothing-like-this*")
    assert none.code == 0 and "No models installed matching '*nothing-like-this*'." in none.out
    wide = cli("list", "realesrgan", "--wide")
    assert "aliases" in wide.out and "summary" in wide.out
    assert "real-esrgan" in wide.out and "RRDB" in wide.out
    narrow = cli("list", "stylegan2")
    assert "+4 more" in narrow.out and "horse-config-f" not in narrow.out  # digits*, ffhq-config-f, +4
    assert "horse-config-f" in cli("list", "stylegan2", "--wide").out


def test_run_help_lists_the_tasks_and_their_models():
    result = run_cli("run", "--help")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Tasks of the installed plugins" in text
    by_task = {}
    for line in text.splitlines():
        line = line.strip(" │")
        task, sep, models = line.partition(": ")
        if sep and task.isidentifier():
            by_task[task] = {m.strip() for m in models.split(",")}
    assert {"bicubic", "edsr", "espcn"} <= by_task["upscale"]
    assert by_task["sketch2image"] == {"svae"}
    assert "dcgan" in by_task["generate"]


def test_datasets_lists_every_builtin_set_uncut_at_80_columns():
    result = run_cli("datasets", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    firsts = [line.split(" ", 1)[0] for line in result.stdout.splitlines()]
    expected = {
        "builtin:digits",
        "builtin:skimage-photos",
        "builtin:skimage-photos:heldout",
        "builtin:shapes",
        "builtin:shapes:heldout",
    }
    assert expected <= set(firsts), result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    listed = {r["name"]: r for r in json.loads(run_cli("datasets", "--json").stdout)}
    assert listed["builtin:shapes"]["plugin"] == "vae" and listed["builtin:digits"]["plugin"] == "core"


def test_a_plugin_whose_dataset_hook_fails_costs_only_its_own_sets(install):
    from genedit_core import hookimpl

    class Good:
        @hookimpl
        def register_datasets(self, register):
            register(SampleSet("toy", "a toy set", "CC0", "generated"))

    class Bad:
        @hookimpl
        def register_datasets(self, register):
            raise RuntimeError("no datasets today")

    plugins = install(Good(), Bad(), names=("good", "bad"))
    sets, problems = sample_sets(plugins)
    names = {s.name: s.plugin for s in sets}
    assert names["toy"] == "good" and names["digits"] == "core"
    assert problems == ["plugin 'bad' failed to list its datasets: RuntimeError: no datasets today"]


def test_datasets_and_list_import_no_torch():
    for args in (["datasets"], ["list", "*esr*", "--wide"]):
        result = run_cli(*args, python_flags=("-X", "importtime"))
        assert result.returncode == 0, result.stderr[-2000:]
        modules = imported_modules(result.stderr)
        assert "genedit_cli.app" in modules
        assert "torch" not in modules, args
