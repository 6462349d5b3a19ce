"""``genedit serve``: added by the plugin through register_commands; refuses unsafe settings in one line."""

from __future__ import annotations

from functools import partial

import pytest

from genedit_core.testing import run_cli


@pytest.fixture
def cli(toy, capsys, monkeypatch):
    """``genedit ARGS`` in-process with the toy and serve plugins: (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", "200")
    return partial(run_cli, capsys)


def test_serve_is_a_command_of_the_plugin(cli):
    code, out, _ = cli("serve", "--help")
    assert code == 0 and "--token" in out and "--workdir" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--host", "0.0.0.0"), "--host 0.0.0.0: serving beyond this machine needs --token (a bearer token)"),
        (("--queue", "0"), "--queue 0: expected 1 to 10000 jobs"),
        (("--max-upload-mb", "0"), "--max-upload-mb 0: expected a positive size"),
        (("--port", "70000"), "--port 70000: expected 0 to 65535"),
    ],
)
def test_unsafe_or_impossible_settings_are_one_line_before_anything_starts(cli, args, message, monkeypatch):
    monkeypatch.delenv("GENEDIT_SERVE_TOKEN", raising=False)
    code, _, err = cli("serve", *args)
    assert code == 2 and err.strip() == f"error: {message}"


def test_a_port_in_use_is_one_line(cli):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code, _, err = cli("serve", "--port", str(port))
    assert code == 2 and err.startswith(f"error: --host 127.0.0.1 --port {port}: cannot listen there (")
    assert len(err.strip().splitlines()) == 1
