"""One loading path: genedit_core.load resolves, reads once, lets the owner build, lets a method transform.

With the toy plugin only: ``load_model`` reaches the card's owner and no other plugin; a weights
file is hashed and parsed once; a folder's config.json can name its file (locally and on the Hub);
a method named under ``genedit.transform`` finishes the model through ``transform_model``. A source
walk checks that nothing else in the tree builds a ``LoadedModel`` from weights.
"""

from __future__ import annotations

import ast
import json
from importlib import metadata
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from toy_plugin import ToyPlugin, nearest, toy_bytes, toy_card, toy_state

import genedit_core
from genedit_core import hookimpl
from genedit_core.errors import PluginError, WeightsError

REPO = Path(__file__).resolve().parent.parent
X = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(0))


class Greedy:
    """A plugin whose load_model would answer for any card: under owner dispatch it never runs."""

    name = "greedy"

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def load_model(self, request):
        self.calls += 1
        raise AssertionError("a plugin was asked to build another plugin's model")


class Negate:
    """A method plugin: folders its 'negate' method writes come back as 1 - the owner's output."""

    name = "negate"

    def __init__(self) -> None:
        self.reads = 0

    @hookimpl
    def register_methods(self, register):
        register("optimize", "negate", "tests only")

    @hookimpl
    def transform_model(self, request):
        if request.method != "negate":
            return None
        state = request.read_state()
        state = request.read_state()  # a second call costs nothing: the file was read once
        model = request.build(state)
        inner = model.forward
        model.forward = lambda x: 1 - inner(x)
        return model


def _folder(tmp_path: Path, genedit: dict, name: str = "model.safetensors", kind: str = "identity") -> Path:
    folder = tmp_path / "folder"
    folder.mkdir()
    save_file(toy_state(kind), str(folder / name))
    (folder / "config.json").write_text(json.dumps({"genedit": genedit}))
    return folder


def test_load_model_reaches_the_owner_only(install, tmp_path):
    greedy = Greedy()
    install(ToyPlugin(toy_card()), greedy)
    folder = _folder(tmp_path, {})
    model = genedit_core.load("toy", weights=str(folder), device="cpu")
    assert greedy.calls == 0 and torch.allclose(model(X), nearest(X), atol=1e-6)


def test_a_weights_file_is_hashed_and_parsed_once(install, tmp_path, monkeypatch):
    import genedit_core.checkpoint as checkpoint
    import genedit_core.weights as weights

    install(ToyPlugin(toy_card()))
    path = tmp_path / "w.safetensors"
    path.write_bytes(toy_bytes("invert"))
    seen: list[tuple[str, str]] = []
    real_read, real_sha = checkpoint.load_state_dict, weights.sha256_of
    monkeypatch.setattr(
        checkpoint, "load_state_dict", lambda p: seen.append(("read", str(p))) or real_read(p)
    )
    monkeypatch.setattr(weights, "sha256_of", lambda p: seen.append(("sha", str(p))) or real_sha(p))
    model = genedit_core.load("toy", weights=str(path), device="cpu")
    assert sorted(seen) == [("read", str(path)), ("sha", str(path))]
    assert torch.allclose(model(X), 1 - nearest(X), atol=1e-6)


def test_a_folder_config_names_the_file_to_load(install, tmp_path):
    install(ToyPlugin(toy_card()))
    folder = _folder(tmp_path, {"file": "other.safetensors"}, name="other.safetensors", kind="invert")
    save_file(toy_state("identity"), str(folder / "model.safetensors"))  # the default name loses
    model = genedit_core.load("toy", weights=str(folder), device="cpu")
    assert model.weights.path == folder / "other.safetensors"
    assert torch.allclose(model(X), 1 - nearest(X), atol=1e-6)


@pytest.mark.parametrize("name", ["../w.safetensors", "/etc/passwd", 7])
def test_a_folder_config_naming_a_path_is_refused(install, tmp_path, name):
    install(ToyPlugin(toy_card()))
    folder = _folder(tmp_path, {"file": name})
    with pytest.raises(WeightsError, match="not a plain file name"):
        genedit_core.load("toy", weights=str(folder), device="cpu")


def test_a_folder_from_the_hub_loads_the_file_its_config_names(hub, install):
    config = json.dumps({"genedit": {"file": "w.int.safetensors"}}).encode()
    hub.add_commit("someone/named", {"w.int.safetensors": toy_bytes("invert"), "config.json": config})
    install(ToyPlugin(toy_card()))
    model = genedit_core.load("toy", weights="hf://someone/named", device="cpu")
    assert model.weights.origin == "hf://someone/named/w.int.safetensors@main"
    assert torch.allclose(model(X), 1 - nearest(X), atol=1e-6)


def test_a_method_named_in_config_transforms_the_owners_model(install, tmp_path, monkeypatch):
    import genedit_core.checkpoint as checkpoint

    install(ToyPlugin(toy_card()), Negate())
    folder = _folder(tmp_path, {"transform": "negate"})
    reads: list[str] = []
    real_read = checkpoint.load_state_dict
    monkeypatch.setattr(checkpoint, "load_state_dict", lambda p: reads.append(str(p)) or real_read(p))
    model = genedit_core.load("toy", weights=str(folder), device="cpu")
    assert reads == [str(folder / "model.safetensors")]
    assert torch.allclose(model(X), 1 - nearest(X), atol=1e-6)
    assert model.weights.config["genedit"] == {"transform": "negate"}


def test_a_method_no_plugin_loads_is_one_error_naming_it(install, tmp_path):
    install(ToyPlugin(toy_card()), Negate())
    folder = _folder(tmp_path, {"transform": "shrink"})
    with pytest.raises(PluginError, match="made by method 'shrink', which no loaded plugin provides"):
        genedit_core.load("toy", weights=str(folder), device="cpu")


# --- the source walk -------------------------------------------------------------------------------


def _sources() -> list[Path]:
    roots = [REPO / "genedit_core", REPO / "cli" / "genedit_cli", *sorted(REPO.glob("plugins/*/genedit_*"))]
    return [p for root in roots for p in sorted(root.rglob("*.py"))]


def _module_file(module: str) -> Path | None:
    for path in (Path(*module.split(".")).with_suffix(".py"), Path(*module.split(".")) / "__init__.py"):
        for root in (REPO, REPO / "cli", *REPO.glob("plugins/*")):
            if (root / path).is_file():
                return (root / path).resolve()
    return None


def _relative_imports(tree: ast.AST, package: str) -> list[tuple[str, Path]]:
    """The package's own modules that ``tree`` imports with ``from .x import ...``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            path = _module_file(f"{package}.{node.module}")
            if path is not None:
                found.append((f"{package}.{node.module}", path))
    return found


def _build_modules() -> set[Path]:
    """Modules allowed to make a LoadedModel: the owners' build code (what in-tree ``load_model``
    hooks import, and what those modules import from their own package in turn: a builder may
    dispatch to one module per kind of model) and the runtimes of ``genedit.backends``."""
    allowed: set[Path] = set()
    for ep in metadata.entry_points(group="genedit"):
        plugin = _module_file(ep.value)
        if plugin is None:
            continue  # not from this checkout
        package = ep.value.rpartition(".")[0]
        tree = ast.parse(plugin.read_text())
        todo: list[tuple[str, Path]] = []
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name == "load_model":
                todo += _relative_imports(fn, package)
        while todo:
            module, path = todo.pop()
            if path in allowed:
                continue
            allowed.add(path)
            todo += _relative_imports(ast.parse(path.read_text()), module.rpartition(".")[0])
    for ep in metadata.entry_points(group="genedit.backends"):
        found = _module_file(ep.value.partition(":")[0])
        if found is not None:
            allowed.add(found)
    return allowed


def test_nothing_outside_the_loader_builds_a_loaded_model():
    allowed = _build_modules()
    plugins = (REPO / "plugins").resolve()
    assert any(plugins in p.parents for p in allowed), allowed  # the walk found owners' build code
    builders, loaders = [], []
    for path in _sources():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name == "LoadedModel" and path.resolve() not in allowed:
                    builders.append(f"{path.relative_to(REPO)}:{node.lineno}")
                # the load_model hook is called by genedit_core.api alone (owner dispatch)
                hook_call = (
                    isinstance(func, ast.Attribute)
                    and func.attr == "owner_hook"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and node.args[0].value == "load_model"
                )
                if hook_call and path.relative_to(REPO).as_posix() != "genedit_core/api.py":
                    loaders.append(f"{path.relative_to(REPO)}:{node.lineno}")
            old_broadcast = (  # pm.hook.load_model(...): every plugin asked
                isinstance(node, ast.Attribute)
                and node.attr == "load_model"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "hook"
            )
            if old_broadcast:
                loaders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert builders == [], f"LoadedModel built outside the owners' build code and backends: {builders}"
    assert loaders == [], f"load_model called outside genedit_core.load: {loaders}"
