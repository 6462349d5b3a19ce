"""Plugin-owned commands: register_commands per plugin, failures and name clashes recorded, no plugin
imported by the CLI, missing plugin commands explained, declared options checked."""

from __future__ import annotations

import ast
import json
import re
from importlib import metadata
from pathlib import Path

import pytest

from genedit_core import hookimpl
from genedit_core.errors import UsageError
from genedit_core.options import Option, check_params

CLI_PACKAGE = Path(__file__).resolve().parents[1] / "cli" / "genedit_cli"


# --- the CLI imports no plugin ------------------------------------------------------------------


def plugin_modules() -> set[str]:
    """Top-level modules of every distribution registered in the ``genedit`` entry-point group."""
    names: set[str] = set()
    for ep in metadata.entry_points(group="genedit"):
        names.add(ep.value.split(":", 1)[0].split(".", 1)[0])
        if ep.dist is not None:
            names.add(re.sub(r"[-.]+", "_", ep.dist.name).lower())
    return names - {"genedit", "genedit_core", "genedit_cli"}


def plugin_imports(source: str, plugins: set[str]) -> list[str]:
    """Imports of ``plugins`` in ``source``: import statements, and module names given as strings
    (``importlib.import_module("genedit_compress")``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in plugins]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in plugins:
                found.append(node.module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.split(".")[0] in plugins
            and re.fullmatch(r"[\w.]+", node.value)
        ):
            found.append(node.value)
    return found


def test_the_cli_package_imports_no_plugin():
    plugins = plugin_modules()
    assert "genedit_compress" in plugins  # the in-tree plugins are installed in this environment
    # the check can fail: each form of import is noticed
    for snippet in ("import genedit_compress", "from genedit_compress.report import x", "f('genedit_sr.x')"):
        assert plugin_imports(snippet, plugins), snippet
    files = sorted(CLI_PACKAGE.rglob("*.py"))
    assert len(files) >= 5
    offenders = {str(f.relative_to(CLI_PACKAGE)): plugin_imports(f.read_text(), plugins) for f in files}
    assert {f: found for f, found in offenders.items() if found} == {}


def test_help_works_with_no_plugin_loaded(cli, monkeypatch):
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "")
    res = cli("--help")
    assert res.code == 0 and "run" in res.out and "train" in res.out
    assert not re.search(r"^\W*(optimize|bench|export)\b", res.out, re.M)


# --- register_commands, one plugin at a time --------------------------------------------------------


class Broken:
    name = "broken"

    @hookimpl
    def register_commands(self, app):
        @app.command("half")
        def half() -> None:
            print("half")

        raise RuntimeError("cannot add commands today")


class Hello:
    name = "hello"

    @hookimpl
    def register_commands(self, app):
        @app.command("hello")
        def hello(who: str = "world") -> None:
            """Say hello."""
            print(f"hello {who}")


class Clashing:
    name = "clashing"

    @hookimpl
    def register_commands(self, app):
        @app.command("list")
        def list_() -> None:
            print("not the real list")

        @app.command("hello")
        def hello() -> None:
            print("second hello")

        @app.command()
        def extra_thing() -> None:
            print("extra")


def test_each_plugin_adds_its_commands_alone(install, cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the plugins table on one line per plugin
    install(Broken(), Hello(), Clashing())
    res = cli("hello", "--who", "you")
    assert res.code == 0 and res.out.strip() == "hello you", res.err
    assert cli("extra-thing").out.strip() == "extra"
    assert "half" not in cli("--help").out  # a failing plugin adds nothing, not half of its commands
    res = cli("list", "--json")
    assert res.code == 0 and json.loads(res.out) == []  # the core's list is not replaced
    infos = {i["name"]: i for i in json.loads(cli("plugins", "--json").out)}
    assert infos["broken"]["command_error"] == "RuntimeError: cannot add commands today"
    assert infos["broken"]["error"] is None and infos["broken"]["commands"] == []
    assert infos["hello"]["commands"] == ["hello"] and infos["hello"]["warnings"] == []
    assert infos["clashing"]["commands"] == ["extra-thing"]
    assert infos["clashing"]["warnings"] == [
        "command 'list' is already provided by genedit itself; this one is not added",
        "command 'hello' is already provided by plugin 'hello'; this one is not added",
    ]
    table = cli("plugins").out
    assert "commands not added: RuntimeError: cannot add commands today" in " ".join(table.split())


def test_commands_follow_the_current_plugin_set(install, cli):
    install(Hello())
    assert cli("hello").code == 0
    install()  # a new plugin set without it
    res = cli("hello")
    assert res.code == 2 and "No such command 'hello'" in res.err


# --- a command whose plugin is not loaded ---------------------------------------------------------


@pytest.mark.skipif(
    not any(ep.name == "compress" for ep in metadata.entry_points(group="genedit")),
    reason="needs genedit-compress installed",
)
def test_a_left_out_plugin_command_says_where_it_comes_from(cli, monkeypatch):
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "")  # every plugin left out, genedit-compress too
    assert "optimize" not in cli("--help").out
    res = cli("optimize", "some-model", "--method", "prune-structured", "--out", "x")
    lines = res.err.strip().splitlines()
    assert res.code == 2 and len(lines) == 1, res.err
    assert "genedit-compress" in lines[0] and "GENEDIT_LOAD_PLUGINS" in lines[0]
    monkeypatch.delenv("GENEDIT_LOAD_PLUGINS")
    from genedit_core.plugins import reset_plugins

    reset_plugins(None)
    assert re.search(r"^\W*optimize\b", cli("--help").out, re.M)


def test_a_command_of_an_uninstalled_plugin_says_what_to_install(cli, monkeypatch):
    import genedit_cli.app as app

    monkeypatch.setitem(app.PLUGIN_COMMANDS, "frobnicate", "genedit-frobnicate")
    res = cli("-v", "frobnicate", "a.png")
    assert res.code == 2
    assert res.err.strip() == (
        "error: 'genedit frobnicate' comes from the genedit-frobnicate plugin, which is not installed: "
        "pip install genedit-frobnicate"
    )


# --- declared options -------------------------------------------------------------------------------

OPTIONS = (
    Option("amount", float, 0.5, "fraction to remove"),
    Option("scope", str, "global", "how to rank", ("global", "layer")),
    Option("include_io", bool, False, "also the RGB layers"),
    Option("steps", int, 0, "fine-tune steps"),
)


def test_check_params_types_and_names():
    parsed = check_params(
        {"amount": "0.25", "scope": "LAYER", "include_io": "true", "steps": "3"}, OPTIONS, "m"
    )
    assert parsed == {"amount": 0.25, "scope": "layer", "include_io": True, "steps": 3}
    with pytest.raises(UsageError) as exc:
        check_params({"ammount": "0.5"}, OPTIONS, "--method prune")
    assert str(exc.value) == (
        "--method prune: unknown option --ammount; did you mean --amount? "
        "(valid options: --amount, --scope, --include-io, --steps)"
    )
    with pytest.raises(UsageError, match="unknown option --zzz \\(valid options: none\\)"):
        check_params({"zzz": "1"}, (), "--format safetensors")
    for key, raw, message in (
        ("amount", "lots", "--amount lots: expected a number"),
        ("steps", "2.5", "--steps 2.5: expected an integer"),
        ("include_io", "maybe", "--include-io maybe: expected true or false"),
        ("scope", "all", "--scope all: expected one of global, layer"),
    ):
        with pytest.raises(UsageError) as exc:
            check_params({key: raw}, OPTIONS, "m")
        assert str(exc.value) == message


def test_option_declarations_are_checked():
    assert OPTIONS[2].describe() == "--include-io BOOL  also the RGB layers (default false)"
    assert OPTIONS[1].describe() == "--scope global|layer  how to rank (default global)"
    with pytest.raises(TypeError):
        Option("amount", list)
    with pytest.raises(ValueError):
        Option("Finetune-Steps", int)
    with pytest.raises(TypeError):
        Option("steps", int, 0, "", ("1", "2"))


def test_methods_register_their_options(install):
    class Methods:
        name = "methods"

        @hookimpl
        def register_methods(self, register):
            register("optimize", "shrink", "make it small", OPTIONS)
            register("export", "plain", "no options")

    pset = install(Methods())
    assert pset.registry.methods[("optimize", "shrink")].options == OPTIONS
    assert pset.registry.methods[("export", "plain")].options == ()

    class BadOptions:
        name = "bad"

        @hookimpl
        def register_methods(self, register):
            register("optimize", "grow", "make it big", ["--amount"])

    info = pset.add(BadOptions(), "bad")
    assert info.error is not None and "options must be genedit_core.options.Option" in info.error
