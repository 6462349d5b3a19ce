"""The commands genedit-compress adds: registered by the plugin, options checked before any work."""

from __future__ import annotations

import pytest


@pytest.fixture
def no_loading(monkeypatch):
    """Loading a model fails the test: the options must be refused before that."""
    import genedit_core.api

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the options were checked")

    monkeypatch.setattr(genedit_core.api, "load", refuse)


def test_the_plugin_registers_the_commands(cli, plugins):
    import json

    code, out, _ = cli("plugins", "--json")
    infos = {i["name"]: i for i in json.loads(out)}
    assert infos["compress"]["commands"] == ["optimize", "export", "save", "push", "bench"]
    assert infos["compress"]["command_error"] is None


def test_unknown_method_option_is_one_line_before_loading(cli, tmp_path, no_loading):
    out_dir = tmp_path / "o"
    code, out, err = cli(
        "optimize", "tiny-edsr", "--method", "prune-structured", "--ammount", "0.5", "--out", str(out_dir)
    )
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith(
        "error: --method prune-structured: unknown option --ammount; did you mean --amount?"
    )
    assert "--finetune-steps" in lines[0] and "--calib-size" in lines[0] and "--eval" in lines[0]
    assert "--scope" not in lines[0]  # prune-unstructured's, not this method's
    assert not out_dir.exists()


def test_mistyped_method_option_is_refused_before_loading(cli, tmp_path, no_loading):
    code, out, err = cli(
        "optimize", "tiny-edsr", "--method", "prune-unstructured", "--scope", "row", "--out", str(tmp_path)
    )
    assert code == 2 and err.strip() == "error: --scope row: expected one of global, layer"


def test_export_and_bench_check_their_options(cli, tmp_path, no_loading):
    code, out, err = cli(
        "export", "tiny-edsr", "--format", "onnx", "--tolerence", "1e-3", "--out", str(tmp_path)
    )
    assert code == 2 and "unknown option --tolerence; did you mean --tolerance?" in err
    code, out, err = cli(
        "export", "tiny-edsr", "--format", "safetensors", "--tolerance", "1", "--out", str(tmp_path)
    )
    assert code == 2 and "(valid options: none)" in err
    code, out, err = cli("bench", "tiny-edsr", "--amount", "0.5")
    assert code == 2 and "bench without --method: unknown option --amount" in err
    code, out, err = cli("bench", "tiny-edsr", "--method", "prune-unstructured", "--eval", "none")
    assert code == 2 and "unknown option --eval" in err  # bench does its own timing, no evaluation
    code, out, err = cli("bench", "tiny-edsr", "--method", "shrink-ray")
    assert code == 2 and "--method shrink-ray: unknown to bench" in err


def test_optimize_help_lists_each_method_s_options(cli):
    code, out, err = cli("optimize", "--help")
    assert code == 0
    text = " ".join(out.split())
    assert "every one: --eval TEXT" in text
    assert "prune-unstructured: --amount FLOAT fraction to remove (default 0.5)" in text
    assert "--scope global|layer" in text and "quantize-int8: --backend pt2e|onnxruntime" in text
    code, out, err = cli("export", "--help")
    assert code == 0 and "--opset INT ONNX opset (default 18)" in " ".join(out.split())
