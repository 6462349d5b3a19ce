"""genedit-compress's pruning on genedit-sr's ESPCN, end to end from the CLI.

An integration test (tests/integration/): a regression between two real plugins. ESPCN's loaded
weights are strided views (how genedit-sr builds it), and torch's pruning flattened them with
``.view``: the command died with a traceback. Neither plugin's own tiny models have such weights.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["optimize", "bench"])
def test_prune_unstructured_on_espcn_runs_from_the_cli(cli, monkeypatch, tmp_path, command):
    """ESPCN's loaded weights are strided views; torch's pruning flattened them with .view and the
    command died with a traceback. Both commands now run end to end."""
    pytest.importorskip("genedit_compress")
    monkeypatch.setenv("GENEDIT_LOAD_PLUGINS", "sr,compress")
    args = {
        "optimize": ("--out", "pruned", "--eval", "none", "--bench-size", "16", "--repeats", "1"),
        "bench": ("--size", "16", "--repeats", "1"),
    }[command]
    result = cli(command, "espcn", "--method", "prune-unstructured", "-q", *args)
    assert result.code == 0, result
    assert "Traceback" not in result.err and "prune-unstructured" in result.out
    if command == "optimize":
        assert (tmp_path / "pruned" / "report.json").is_file()
