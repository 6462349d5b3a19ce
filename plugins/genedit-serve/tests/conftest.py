"""Fixtures for the serve tests: the toy plugin installed alone, an app on a temporary work folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_toy import ToyPlugin

from genedit_core.testing import plugins_installed


@pytest.fixture
def toy() -> Iterator[ToyPlugin]:
    import genedit_serve.plugin as serve_plugin

    plugin = ToyPlugin()
    with plugins_installed(toy=plugin, serve=serve_plugin):
        yield plugin
    plugin.release.set()


@pytest.fixture
def make_client(toy: ToyPlugin, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_client(**settings)``: a TestClient on a fresh app (work folder ``tmp_path/work``)."""
    from fastapi.testclient import TestClient
    from genedit_serve.server import Settings, create_app

    clients = []

    def make(**settings: Any) -> Any:
        settings.setdefault("workdir", tmp_path / "work")
        settings.setdefault("devices", ("cpu",))
        client = TestClient(create_app(Settings(**settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    toy.release.set()
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()
