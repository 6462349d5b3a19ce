"""Export formats: each file reloads and reproduces the PyTorch model."""

from __future__ import annotations

import json

import pytest
import torch

from genedit_core.requests import ExportRequest


def _export(plugins, model, fmt, out, **params):
    return plugins.hook.export(
        request=ExportRequest(fmt, model.card, model, out, {k: str(v) for k, v in params.items()})
    )


def test_methods_are_registered(plugins):
    methods = plugins.registry.methods
    assert {("export", "onnx"), ("export", "torch-export"), ("export", "safetensors")} <= set(methods)
    assert ("optimize", "prune-structured") in methods
    assert plugins.infos["compress"].methods


def test_unknown_format_is_not_ours(plugins, tiny, tmp_path):
    assert _export(plugins, tiny, "tflite", tmp_path) is None


def test_safetensors_round_trip(plugins, tiny, tmp_path):
    from safetensors.torch import load_file

    result = _export(plugins, tiny, "safetensors", tmp_path / "st")
    state = load_file(result["path"])
    assert set(state) == set(tiny.module.state_dict())
    assert result["max_abs_diff"] == 0.0
    config = json.loads((tmp_path / "st" / "config.json").read_text())
    assert config["num_feat"] == 8 and config["genedit"]["model"] == "tiny-edsr"


def test_onnx_dynamic_odd_sizes_verified(plugins, tiny, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    result = _export(plugins, tiny, "onnx", tmp_path / "m.onnx")
    assert result["opset"] == 18 and result["dynamic"] is True
    assert [c["input"] for c in result["checks"]] == [[1, 3, 37, 53], [2, 3, 64, 41]]
    assert result["max_abs_diff"] <= 1e-4
    session = ort.InferenceSession(result["path"], providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert meta["genedit.model"] == "tiny-edsr" and meta["genedit.scale"] == "2"
    # A third size, never seen by the exporter or the verifier: odd and batch 3.
    x = torch.rand(3, 3, 19, 7)
    y = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
    assert y.shape == (3, 3, 38, 14)
    assert abs(torch.from_numpy(y) - tiny.forward(x).detach()).max() <= 1e-4


def test_onnx_backend_runs_through_core_tiler(plugins, tiny, tmp_path):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from genedit_compress.onnx_model import load_onnx_model

    from genedit_core.tiling import run_tiled

    path = _export(plugins, tiny, "onnx", tmp_path)["path"]
    onnx_model = load_onnx_model(path)
    assert onnx_model.card.name == "tiny-edsr" and onnx_model.scale == 2
    x = torch.rand(1, 3, 70, 45)
    tiled = run_tiled(onnx_model, x, tile=32, overlap=12)
    with torch.no_grad():
        ref = tiny.forward(x)
    assert tiled.shape == (1, 3, 140, 90)
    assert float((tiled - ref).abs().max()) <= 1e-4


def test_onnx_tolerance_failure_is_an_error(plugins, tiny, tmp_path):
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    from genedit_compress.exporting import ExportError, export_onnx

    # A negative tolerance can never be met, so the verifier must refuse the file and say why.
    with pytest.raises(ExportError, match="exceeds"):
        export_onnx(tiny, tmp_path / "f.onnx", tolerance=-1.0)


def test_torch_export_reload(plugins, tiny, tmp_path):
    result = _export(plugins, tiny, "torch-export", tmp_path)
    assert result["path"].endswith("model.pt2")
    program = torch.export.load(result["path"])
    x = torch.rand(2, 3, 23, 31)
    with torch.no_grad():
        assert torch.allclose(program.module()(x), tiny.forward(x), atol=1e-5)
    assert result["max_abs_diff"] <= 1e-4 and len(result["checks"]) == 2


def test_static_size_export_has_fixed_shape(plugins, tiny, tmp_path):
    result = _export(plugins, tiny, "torch-export", tmp_path, dynamic_size="false")
    assert result["dynamic"] is False and [c["input"] for c in result["checks"]] == [[2, 3, 48, 40]]
