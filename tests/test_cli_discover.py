"""Finding things: a compact `genedit list` with a name filter, tasks in `run --help`, every builtin set.

The listings are checked at 80 columns (``COLUMNS=80``, a subprocess so the console really has that
width), where the old per-task tables took 161 lines and cut dataset names. The models are toys
shaped like a real catalogue (``toy_plugin.ZooPlugin``: four tasks on one model, weights for only
some scales, six variants, a model that needs --weights), installed as entry points for the
subprocesses (``toy_site``) and inline for the in-process ``cli``.
"""

from __future__ import annotations

import json

import pytest
from helpers import imported_modules, run_cli
from toy_plugin import ResizePlugin, ToyPlugin, ZooPlugin, hub_variant, toy_card, toy_site

from genedit_core.datasets import SampleSet, sample_sets


@pytest.fixture
def zoo_env(tmp_path) -> dict[str, str]:
    """The environment in which a ``genedit`` subprocess loads the toy plugins and the zoo alone."""
    return toy_site(tmp_path / "toy-site", zoo=True)


@pytest.fixture
def zoo(install):
    return install(ToyPlugin(toy_card(hub_variant())), ResizePlugin(), ZooPlugin())


def _rows(stdout: str, names: set[str]) -> dict[str, str]:
    """Table rows by model name: a line that starts with a name begins that model's row."""
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


def test_list_is_one_compact_row_per_model_at_80_columns(zoo_env):
    result = run_cli("list", env={**zoo_env, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    names = {c["name"] for c in json.loads(run_cli("list", "--json", env=zoo_env).stdout)}
    assert names == {"toy", "resize", "morph", "needy", "partial", "many", "sketcher"}
    rows = _rows(result.stdout, names)
    assert set(rows) == names
    assert result.stdout.splitlines()[0].split() == ["model", "tasks", "plugin", "weights"]
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    assert len(result.stdout.splitlines()) <= 2 * len(names) + 1
    # a multi-task model is one row that names all its tasks
    morph = rows["morph"].replace(",", " ").split()
    assert {"generate", "reconstruct", "interpolate", "traverse", "digits*"} <= set(morph)
    assert "upscale x2,3,4" in rows["resize"] and "none needed" in rows["resize"]
    assert "needs --weights" in rows["needy"]


def test_list_says_which_listed_scales_have_no_weights(zoo_env):
    """partial lists x3 but ships weights for x2 and x4 only; the row says so, and so does info."""
    result = run_cli("list", "partial", env={**zoo_env, "COLUMNS": "80"})
    row = " ".join(_rows(result.stdout, {"partial"})["partial"].split())
    assert "bundled* x2,4; no weights for x3" in row
    assert "needy" not in result.stdout
    info = run_cli("info", "partial", env=zoo_env)
    assert "no weights shipped for: x3" in info.stdout
    assert "no weights shipped" not in run_cli("info", "toy", env=zoo_env).stdout


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*orph*", {"morph"}),  # a glob on the name
        ("EED", {"needy"}),  # a plain word matches anywhere, any case
        ("part-*", {"partial"}),  # through an alias
        ("?any", {"many"}),
    ],
)
def test_list_name_filter(zoo, cli, pattern, expected):
    listed = json.loads(cli("list", pattern, "--json").out)
    assert {c["name"] for c in listed} == expected


def test_list_filter_without_match_and_wide(zoo, cli):
    none = cli("list", "*nothing-like-this*")
    assert none.code == 0 and "No models installed matching '*nothing-like-this*'." in none.out
    wide = cli("list", "partial", "--wide")
    assert "aliases" in wide.out and "summary" in wide.out
    assert "part-x3" in wide.out and "Weights for x2" in wide.out
    narrow = cli("list", "many")
    assert "+4 more" in narrow.out and "sixth-of-six" not in narrow.out  # first*, second, +4 more
    assert "sixth-of-six" in cli("list", "many", "--wide").out


def test_run_help_lists_the_tasks_and_their_models(zoo_env):
    result = run_cli("run", "--help", env=zoo_env)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "Tasks of the installed plugins" in text
    by_task = {}
    for line in text.splitlines():
        line = line.strip(" │")
        task, sep, models = line.partition(": ")
        if sep and task.isidentifier():
            by_task[task] = {m.strip() for m in models.split(",")}
    assert by_task["upscale"] == {"needy", "partial", "resize", "toy"}
    assert by_task["sketch2image"] == {"sketcher"}
    assert by_task["generate"] == {"many", "morph"}


def test_datasets_lists_every_builtin_set_uncut_at_80_columns(zoo_env):
    result = run_cli("datasets", env={**zoo_env, "COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    firsts = [line.split(" ", 1)[0] for line in result.stdout.splitlines()]
    expected = {
        "builtin:digits",
        "builtin:skimage-photos",
        "builtin:skimage-photos:heldout",
        "builtin:zoo-shapes",
    }
    assert expected <= set(firsts), result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())
    listed = {r["name"]: r for r in json.loads(run_cli("datasets", "--json", env=zoo_env).stdout)}
    assert listed["builtin:zoo-shapes"]["plugin"] == "toyzoo" and listed["builtin:digits"]["plugin"] == "core"


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


def test_datasets_and_list_import_no_torch(zoo_env):
    for args in (["datasets"], ["list", "*art*", "--wide"]):
        result = run_cli(*args, env=zoo_env, python_flags=("-X", "importtime"))
        assert result.returncode == 0, result.stderr[-2000:]
        modules = imported_modules(result.stderr)
        assert "genedit_cli.app" in modules
        assert "torch" not in modules, args
