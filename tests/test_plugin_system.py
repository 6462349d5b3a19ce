"""Plugin loading: broken plugins are contained, the allow-list works, registration is atomic,
misspelt hooks are caught, and a third-party package is found through its entry point alone.

The installed plugins these tests load by entry point are toys (``toy_plugin.toy_site``: ``toy`` and
``toyresize`` of the distribution ``genedit-toy``), never the real ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli, write_distribution
from inline_plugin import CardsPlugin
from PIL import Image
from toy_plugin import toy_site

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.errors import UnknownModelError
from genedit_core.plugins import GeneditPlugins, get_plugins


def card(name: str, aliases: tuple[str, ...] = ()) -> ModelCard:
    return ModelCard(
        name=name, tasks=("upscale",), family="test", summary=name, aliases=aliases, needs_weights=False
    )


class Cards(CardsPlugin):
    def __init__(self, *cards: ModelCard):
        super().__init__(*cards)
        self.loads = 0

    @hookimpl
    def load_model(self, request):
        self.loads += 1


BROKEN = {"genedit_broken_plugin": "raise RuntimeError('this plugin is broken on purpose')\n"}


@pytest.fixture
def broken_on_path(tmp_path, monkeypatch):
    root = write_distribution(
        tmp_path / "site", "genedit-broken", "9.9", {"broken": "genedit_broken_plugin"}, BROKEN
    )
    monkeypatch.syspath_prepend(str(root))
    return root


@pytest.fixture
def toys_on_path(tmp_path, monkeypatch):
    """The toy plugins installed as entry points, and genedit told to load them and ``broken`` only."""
    root = tmp_path / "toy-site"
    toy_site(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "toy,toyresize,broken")
    return root


def test_broken_plugin_is_listed_with_its_error_and_the_cli_still_works(
    broken_on_path, toys_on_path, cli, tmp_path
):
    result = cli("plugins", "--json")
    assert result.code == 0, result
    infos = {p["name"]: p for p in json.loads(result.out)}
    assert infos["broken"]["error"] == "RuntimeError: this plugin is broken on purpose"
    assert infos["broken"]["version"] == "9.9" and infos["broken"]["distribution"] == "genedit-broken"
    assert infos["broken"]["models"] == []
    assert infos["toyresize"]["error"] is None and infos["toyresize"]["models"] == ["resize"]

    src = tmp_path / "a.png"
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(src)
    run = cli("run", "upscale", "--model", "resize", str(src), "-q")
    assert run.code == 0, run
    assert Image.open(tmp_path / "results" / "a_resize_x2.png").size == (10, 8)

    listing = cli("list")
    assert listing.code == 0
    assert "1 plugin(s) failed to load: broken" in listing.err


def test_allow_list_empty_loads_nothing(broken_on_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "")
    plugins = get_plugins()
    assert plugins.infos == {}
    assert plugins.registry.list() == []


def test_allow_list_loads_only_the_named_plugins(broken_on_path, toys_on_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "toyresize")
    plugins = get_plugins()
    assert list(plugins.infos) == ["toyresize"]
    assert {c.plugin for c in plugins.registry.list()} == {"toyresize"}
    assert "genedit_broken_plugin" not in sys.modules


def test_allow_list_accepts_distribution_names(broken_on_path, toys_on_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", " genedit-toy , genedit-broken ")
    assert sorted(get_plugins().infos) == ["broken", "toy", "toyresize", "toyzoo"]


def test_a_name_clash_costs_only_the_clashing_card():
    plugins = GeneditPlugins()
    first = Cards(card("alpha"), card("beta"))
    second = Cards(card("gamma"), card("delta"), card("BETA"))
    assert plugins.add(first, "first").error is None

    info = plugins.add(second, "second")

    assert info.error is None and info.models == ["gamma", "delta", "BETA"]
    assert info.warnings == [
        "model name 'beta' is registered by plugins 'first' and 'second'; 'beta' means first:beta, "
        "use second:beta for the other"
    ]
    assert plugins.registry.get("beta").plugin == "first"
    assert plugins.registry.get("second:beta").plugin == "second"
    assert plugins.registry.get("FIRST:Beta").plugin == "first"
    assert plugins.registry.get("gamma").plugin == plugins.registry.get("delta").plugin == "second"
    # model-specific hooks reach the owner only, whatever the other plugin's hook does
    plugins.owner_hook("load_model", plugins.registry.get("second:beta"))(request=None)
    assert (first.loads, second.loads) == (0, 1)


def test_plugins_released_with_the_core_keep_their_names():
    from genedit_core import __version__

    plugins = GeneditPlugins()
    plugins.add(Cards(card("upx"), card("extra")), "outsider", version="1.0", distribution="acme-up")
    plugins.add(
        Cards(card("upx"), card("resample")), "made", version=__version__, distribution="genedit-made"
    )
    assert plugins.registry.get("upx").plugin == "made"  # loaded second, still wins the bare name
    assert plugins.registry.get("outsider:upx").plugin == "outsider"
    assert (
        plugins.registry.get("resample").plugin == "made"
        and plugins.registry.get("extra").plugin == "outsider"
    )
    assert "'upx' means made:upx" in plugins.infos["made"].warnings[0]


def test_qualified_names_and_failed_plugins_are_explained():
    from genedit_core.errors import UsageError

    plugins = GeneditPlugins()
    plugins.add(Cards(card("alpha", aliases=("a",))), "first")

    class Raises:
        @hookimpl
        def register_models(self, register):
            raise ValueError("boom")

    assert plugins.add(Raises(), "fails").error == "ValueError: boom"
    with pytest.raises(
        UsageError, match=r"model 'fails:resample': plugin 'fails' failed to load \(ValueError: boom\)"
    ):
        plugins.registry.get("fails:resample")
    with pytest.raises(UnknownModelError, match=r"Plugin\(s\) 'fails' failed to load and may own it"):
        plugins.registry.get("resample")
    with pytest.raises(UsageError, match="no plugin named 'nope'"):
        plugins.registry.get("nope:alpha")
    assert plugins.registry.get("first:a").name == "alpha"


def test_a_card_registered_twice_by_one_plugin_is_skipped_alone():
    plugins = GeneditPlugins()
    own = plugins.add(Cards(card("x"), card("y", aliases=("x",)), card("z")), "third")
    assert own.error is None
    assert own.warnings == ["plugin 'third' registers model name 'x' twice; the second card is skipped"]
    assert sorted(c.name for c in plugins.registry.list()) == ["x", "z"]


def test_misspelt_hook_is_reported_and_the_plugin_is_not_loaded():
    class Typo:
        @hookimpl
        def regster_models(self, register):
            register(card("typo-model"))

    plugins = GeneditPlugins()
    plugins.add(Cards(card("fine")), "good")
    info = plugins.add(Typo(), "typo")

    assert info.error is not None
    assert info.error.startswith("PluginValidationError")
    assert info.error == "PluginValidationError: unknown hook 'regster_models' in plugin 'typo'"
    assert plugins.pm.get_plugin("typo") is None
    assert [c.name for c in plugins.registry.list()] == ["fine"]
    assert plugins.add(Cards(card("later")), "later").error is None  # check_pending is clean again


def test_registering_something_that_is_not_a_card_is_an_error():
    class Bad:
        @hookimpl
        def register_models(self, register):
            register({"name": "dict-card"})

    info = GeneditPlugins().add(Bad(), "bad")
    assert info.error == "PluginError: register_models got dict, expected ModelCard"


def test_hook_that_raises_during_registration_is_contained():
    class Raises:
        @hookimpl
        def register_models(self, register):
            register(card("half"))
            raise ValueError("boom\nsecond line")

    plugins = GeneditPlugins()
    info = plugins.add(Raises(), "raises")
    assert info.error == "ValueError: boom"
    assert plugins.registry.list() == []


# ---- a third-party plugin, found only through its entry point ------------------------------------

THIRD_PARTY = {
    "genedit_nearest": '''
        """A third-party genedit plugin: nearest-neighbour x2. No torch at import time."""
        from genedit_core import hookimpl
        from genedit_core.cards import ModelCard

        CARD = ModelCard(
            name="nearest-x2",
            tasks=("upscale",),
            family="third-party",
            summary="Nearest-neighbour x2 from an outside package.",
            scales=(2,),
            needs_weights=False,
        )


        @hookimpl
        def register_models(register):
            register(CARD)


        @hookimpl
        def load_model(request):
            if request.card.name != "nearest-x2":
                return None
            import torch
            from genedit_core.model import LoadedModel

            def forward(x):
                return x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)

            return LoadedModel(card=request.card, module=None, forward=forward, device=request.device,
                               dtype=torch.float32, scale=2, receptive_field=1)


        @hookimpl
        def edit(request):
            if request.card.name != "nearest-x2":
                return None
            return request.tiler(request.model, request.image)
    ''',
}


def _check_third_party(env: dict[str, str], tmp_path: Path, version: str) -> None:
    listed = run_cli("list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    cards = {c["name"]: c for c in json.loads(listed.stdout)}
    assert cards["nearest-x2"]["plugin"] == "nearest"
    assert cards["nearest-x2"]["family"] == "third-party"

    plugins = {p["name"]: p for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert plugins["nearest"]["version"] == version
    assert plugins["nearest"]["distribution"] == "genedit-nearest"
    assert plugins["nearest"]["error"] is None

    arr = np.random.default_rng(5).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "in.png")
    ran = run_cli(
        "run",
        "upscale",
        "-m",
        "nearest-x2",
        str(tmp_path / "in.png"),
        "-o",
        str(tmp_path / "out.png"),
        "--tile",
        "0",
        "-q",
        env={**env, "GENEDIT_LOAD_PLUGINS": "nearest"},
    )
    assert ran.returncode == 0, ran.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.array_equal(out, arr.repeat(2, 0).repeat(2, 1))


def test_third_party_plugin_is_discovered_through_its_entry_point(tmp_path):
    site = write_distribution(
        tmp_path / "site", "genedit-nearest", "0.3.1", {"nearest": "genedit_nearest"}, THIRD_PARTY
    )
    _check_third_party({"PYTHONPATH": str(site)}, tmp_path, "0.3.1")


@pytest.mark.slow
def test_third_party_plugin_installed_with_pip(tmp_path):
    src = tmp_path / "genedit-nearest"
    src.mkdir()
    (src / "pyproject.toml").write_text(
        textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "genedit-nearest"
        version = "0.4.0"
        dependencies = []

        [project.entry-points.genedit]
        nearest = "genedit_nearest"

        [tool.setuptools]
        py-modules = ["genedit_nearest"]
    """)
    )
    (src / "genedit_nearest.py").write_text(textwrap.dedent(THIRD_PARTY["genedit_nearest"]))
    target = tmp_path / "target"
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pip.returncode == 0, pip.stderr
    assert (target / "genedit_nearest.py").is_file()
    assert list(target.glob("genedit_nearest-0.4.0.dist-info/entry_points.txt"))
    _check_third_party({"PYTHONPATH": str(target)}, tmp_path, "0.4.0")


def test_plugins_installed_helper_isolates_and_restores():
    from genedit_core.plugins import get_plugins
    from genedit_core.testing import plugins_installed

    class Broken:
        from genedit_core import hookimpl

        @hookimpl
        def register_models(self, register):
            raise RuntimeError("boom")

    with (
        pytest.raises(AssertionError, match="plugin 'broken' failed to register: RuntimeError: boom"),
        plugins_installed(broken=Broken()),
    ):
        pass
    with plugins_installed() as p:
        assert get_plugins() is p and p.registry.list() == []
    assert get_plugins() is not p


def test_sys_exit_at_import_cannot_silence_the_cli(tmp_path):
    """A plugin that calls sys.exit while importing is recorded as broken; list and --help still answer."""
    site = write_distribution(
        tmp_path / "site",
        "genedit-quitter",
        "1.0",
        {"quitter": "genedit_quitter"},
        {"genedit_quitter": "import sys\nsys.exit(3)\n"},
    )
    toys = toy_site(tmp_path / "toy-site")
    env = {
        "PYTHONPATH": f"{site}{os.pathsep}{toys['PYTHONPATH']}",
        "GENEDIT_LOAD_PLUGINS": "toy,toyresize,quitter",
    }
    listed = run_cli("list", env=env)
    assert listed.returncode == 0 and "resize" in listed.stdout, listed.stderr
    assert run_cli("--help", env=env).returncode == 0
    infos = {p["name"]: p for p in json.loads(run_cli("plugins", "--json", env=env).stdout)}
    assert infos["quitter"]["error"] == "SystemExit: 3" and infos["toyresize"]["error"] is None
