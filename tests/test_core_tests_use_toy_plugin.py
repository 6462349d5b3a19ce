"""Core tests use toy plugins only; the real plugins are tested in their own suites (issue 10, item 9).

A core test that runs ``edsr`` or ``bicubic`` tests the core through one plugin's behaviour: it
breaks when that plugin changes, passes only while that plugin is installed, and hides which of the
two is at fault. So every test file under ``tests/`` outside ``tests/integration/`` must get its
models from a toy plugin (``toy_plugin.py``, ``_tiny_task.py``, or one the test writes) and this
test fails, naming the file, line and what it names, when one:

- imports an in-tree plugin package (``import genedit_sr``, ``importorskip("genedit_gan")``) or
  names its source folder (``plugins/genedit-sr/...``);
- names an in-tree model as a whole string (``"edsr"``, ``"sr:bicubic"``), docstrings and comments
  aside, and strings that are plainly about something else (``mode="bicubic"`` of an interpolation,
  a parametrize ``ids=`` label);
- loads an in-tree plugin by name: ``install(sr=True)`` or ``GENEDIT_LOAD_PLUGINS`` set to one.

"In-tree" is read from the tree: the ``genedit`` entry points of ``plugins/*/pyproject.toml`` and
the cards those plugins register. Tests that need the real plugins together (every docs command,
every registered model under DDP, GPU kernels) live in ``tests/integration/``, each saying why.

:data:`ALLOWED` lists the files not converted yet, each with its reason; an entry whose file no
longer trips the check fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from genedit_core.plugins import get_plugins

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
INTEGRATION = TESTS / "integration"

# keyword arguments whose string values are not genedit model names
NOT_MODEL_KEYWORDS = {"mode", "ids", "resample", "interpolation"}

_OTHER_HELPER = "being changed by another change in flight; convert to toy_plugin after it lands"
ALLOWED: dict[str, str] = {
    # the CLI's error paths and batch runner are being moved: swap bicubic for ResizePlugin after
    "tests/test_cli_bad_inputs.py": _OTHER_HELPER + " (the batch runner moves into the core)",
    "tests/test_cli_run_outputs.py": _OTHER_HELPER + " (the batch runner moves into the core)",
    "tests/adversarial/test_garbage_out.py": _OTHER_HELPER + " (deduplicated with test_markup.py)",
    "tests/adversarial/test_markup.py": _OTHER_HELPER + " (deduplicated with test_garbage_out.py)",
    "tests/conftest.py": "install(sr=True), for the files above that still use it; goes with the last",
    # justified: these check the tree or the CLI's own table of released plugins
    "tests/test_plugin_commands.py": (
        "the CLI-imports-no-plugin check names plugin packages as its examples; the CLI's table of "
        "commands released plugins bring names genedit-compress, so its missing-command message is "
        "checked with genedit-compress left out, then installed"
    ),
}


@dataclass(frozen=True)
class InTree:
    entry_points: frozenset[str]  # "sr", "gan", ...
    packages: frozenset[str]  # "genedit_sr", ...
    folders: frozenset[str]  # "genedit-sr", ...
    models: frozenset[str]  # card names and aliases, lower case


def in_tree() -> InTree:
    eps: set[str] = set()
    packages: set[str] = set()
    folders: set[str] = set()
    for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        folders.add(pyproject.parent.name)
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        for name, target in data.get("project", {}).get("entry-points", {}).get("genedit", {}).items():
            eps.add(name)
            packages.add(target.split(":")[0].split(".")[0])
    models: set[str] = set()
    for card in get_plugins().registry.cards.values():
        if card.plugin in eps:
            models.update(n.lower() for n in (card.name, *card.aliases))
    return InTree(frozenset(eps), frozenset(packages), frozenset(folders), frozenset(models))


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _plugin_list(value: object) -> set[str]:
    return {p.strip() for p in value.split(",")} if isinstance(value, str) else set()


def real_plugin_uses(source: str, known: InTree) -> list[str]:
    """``line: what`` for each place ``source`` uses a real in-tree plugin (see the module docstring)."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in NOT_MODEL_KEYWORDS:
            skip.update(id(n) for n in ast.walk(node.value))
        elif isinstance(node, ast.arguments):  # def f(mode="bicubic"): the same, as a default
            positional = node.posonlyargs + node.args
            pairs = list(zip(positional[len(positional) - len(node.defaults) :], node.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None]
            skip.update(id(d) for a, d in pairs if a.arg in NOT_MODEL_KEYWORDS)
    pkg_rx = re.compile(r"\b(" + "|".join(map(re.escape, sorted(known.packages | known.folders))) + r")\b")
    found: list[str] = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(f"{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in known.packages:
                    hit(node, f"imports {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in known.packages:
                hit(node, f"imports {node.module}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
            name = text.lower()
            if name in known.models or (
                ":" in name and name.split(":", 1)[1] in known.models and "/" not in name
            ):
                hit(node, f"names model {text!r}")
            elif m := pkg_rx.search(text):
                hit(node, f"names plugin {m.group(1)!r}")
        elif (
            isinstance(node, ast.keyword)
            and node.arg == "sr"
            and isinstance(node.value, ast.Constant)
            and node.value.value is True
        ):
            hit(node.value, "loads the real SR plugin (sr=True)")
        if isinstance(node, (ast.Call, ast.Dict, ast.Assign)):
            for value in _load_plugins_values(node):
                if _plugin_list(value) & known.entry_points:
                    hit(node, f"GENEDIT_LOAD_PLUGINS={value!r}")
    return sorted(set(found), key=lambda s: int(s.split(":")[0]))


def _load_plugins_values(node: ast.AST) -> list[object]:
    """Constant values given to GENEDIT_LOAD_PLUGINS: dict entries, keyword, setenv, item assignment."""
    key = "GENEDIT_LOAD_PLUGINS"

    def const(n: ast.AST | None) -> object:
        return n.value if isinstance(n, ast.Constant) else None

    if isinstance(node, ast.Dict):
        return [const(v) for k, v in zip(node.keys, node.values, strict=True) if const(k) == key]
    if isinstance(node, ast.Call):
        out = [const(kw.value) for kw in node.keywords if kw.arg == key]
        if len(node.args) >= 2 and const(node.args[0]) == key:
            out.append(const(node.args[1]))
        return out
    if isinstance(node, ast.Assign):
        return [
            const(node.value) for t in node.targets if isinstance(t, ast.Subscript) and const(t.slice) == key
        ]
    return []


def core_test_files() -> list[Path]:
    """Every Python file under tests/ but tests/integration/ and this one (its examples name models)."""
    here = Path(__file__).resolve()
    return sorted(
        p
        for p in TESTS.rglob("*.py")
        if INTEGRATION not in p.parents and "__pycache__" not in p.parts and p.resolve() != here
    )


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


@pytest.fixture(scope="module")
def known() -> InTree:
    return in_tree()


def test_in_tree_plugins_are_read_from_the_tree(known):
    assert {"sr", "gan", "vae", "compress"} <= known.entry_points
    assert {"genedit_sr", "genedit_gan"} <= known.packages
    assert {"edsr", "bicubic", "dcgan", "esrgan"} <= known.models  # names and aliases


def test_core_test_files_use_no_real_plugin(known):
    offenders = {}
    for path in core_test_files():
        if _rel(path) in ALLOWED:
            continue
        uses = real_plugin_uses(path.read_text(encoding="utf-8"), known)
        if uses:
            offenders[_rel(path)] = uses
    assert not offenders, (
        "core tests must use a toy plugin (tests/toy_plugin.py); move plugin behaviour to the "
        f"plugin's tests and cross-plugin tests to tests/integration/: {offenders}"
    )


def test_every_allowed_file_still_needs_its_entry(known):
    for rel, reason in ALLOWED.items():
        assert reason.strip(), rel
        path = REPO / rel
        assert path.is_file(), f"{rel} is gone: remove it from ALLOWED"
        assert real_plugin_uses(path.read_text(encoding="utf-8"), known), (
            f"{rel} no longer uses a real plugin: remove it from ALLOWED"
        )


def test_the_check_sees_each_kind_of_use_and_passes_toy_tests(known):
    bad = '''
"""Docstrings may say edsr."""
import genedit_sr.build
from genedit_gan.training import task_for
import pytest, os
pytest.importorskip("genedit_vae")
W = "plugins/genedit-sr/genedit_sr/weights/x.safetensors"

def test_x(cli, install, monkeypatch):
    install(sr=True)
    cli("run", "upscale", "-m", "EDSR", "a.png")
    cli("run", "upscale", "-m", "sr:bicubic", "a.png")
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "sr,compress")
    env = {"GENEDIT_LOAD_PLUGINS": "gan"}
    os.environ["GENEDIT_LOAD_PLUGINS"] = "vae"
'''
    lines = sorted({u.split(": ", 1)[0] for u in real_plugin_uses(bad, known)}, key=int)
    assert lines == ["3", "4", "6", "7", "10", "11", "12", "13", "14", "15"]
    good = '''
"""Upscales like edsr does, with a toy."""
import pytest
from toy_plugin import ToyPlugin, toy_card

def resize(x, mode="bicubic"):
    return x

@pytest.mark.parametrize("mode", ["bilinear", "nearest"], ids=["bicubic", "nearest"])
def test_x(cli, install, monkeypatch, mode, resize_mode="x", *, interpolation="bicubic"):
    install(ToyPlugin(toy_card()))
    interpolate(x, mode="bicubic")  # edsr in a comment is fine
    cli("run", "upscale", "-m", "toy", "a.png", "--out", "edsr_like.png")
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "toy")
'''
    assert real_plugin_uses(good, known) == []
