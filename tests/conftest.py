"""Shared fixtures: a hermetic environment, the Hub emulator, inline plugins and CLI runners.

Every test gets its own ``HF_HOME`` and an ``HF_ENDPOINT`` that refuses connections, so nothing can
reach the real Hub or the user's cache; the ``hub`` fixture points ``HF_ENDPOINT`` at a live
emulator instead. genedit reads these variables at call time, so ``monkeypatch.setenv`` works
in-process. Installed plugins are forgotten after each test.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from genedit_core.plugins import GeneditPlugins, get_plugins, reset_plugins

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))

from helpers import CliResult  # noqa: E402
from hub_emulator import HubEmulator  # noqa: E402


def _closed_port() -> int:
    """A local port nothing listens on: connections to it are refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    hf_home = tmp_path / "hf"
    monkeypatch.setenv("HF_HOME", str(hf_home))
    monkeypatch.setenv("HF_HUB_CACHE", str(hf_home / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    # The emulator never sends X-Xet-Hash, so hf_xet is never used; this keeps it off for subprocesses too.
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    # genedit's own cache (the Hub trust-on-first-use record) is per test too.
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "genedit-cache"))
    for name in (
        "HF_TOKEN",
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "GENEDIT_LOAD_PLUGINS",
        "GENEDIT_MAX_PIXELS",
    ):
        monkeypatch.delenv(name, raising=False)
    return hf_home


@pytest.fixture(autouse=True)
def fresh_plugins() -> Iterator[None]:
    reset_plugins(None)
    yield
    reset_plugins(None)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubEmulator]:
    emulator = HubEmulator().start()
    monkeypatch.setenv("HF_ENDPOINT", emulator.url)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def install() -> Callable[..., GeneditPlugins]:
    """Install inline plugin objects (and, with ``sr=True``, the real SR plugin) as the plugin set."""

    def _install(*plugins: object, sr: bool = False, names: tuple[str, ...] = ()) -> GeneditPlugins:
        pset = GeneditPlugins()
        if sr:
            os.environ["GENEDIT_LOAD_PLUGINS"] = "sr"
            try:
                pset.load_entry_points()
            finally:
                del os.environ["GENEDIT_LOAD_PLUGINS"]
        for i, obj in enumerate(plugins):
            name = names[i] if i < len(names) else getattr(obj, "name", f"inline{i}")
            info = pset.add(obj, name)
            assert info.error is None, info.error
        reset_plugins(pset)
        return pset

    return _install


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[bytes], str]:
    from toy_plugin import make_bundle

    root = tmp_path / "bundles"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return lambda data: make_bundle(root, data)


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., CliResult]:
    """Run ``genedit`` in-process (fast: torch stays imported) and return code, stdout and stderr.

    The current folder is the test's ``tmp_path``, so default output folders (``results/``,
    ``generated/``) land there and never in the checkout.
    """
    from genedit_cli.app import main

    monkeypatch.chdir(tmp_path)

    def _run(*argv: str) -> CliResult:
        get_plugins()
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(list(argv))
        captured = capsys.readouterr()
        code = exc.value.code
        return CliResult(
            code if isinstance(code, int) else (0 if code is None else 1), captured.out, captured.err
        )

    return _run
