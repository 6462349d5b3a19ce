"""Folders ``genedit optimize`` writes load through genedit_core.load, as ``genedit run --weights DIR``.

The int8 folders run end to end through the CLI (``optimize``, then ``run`` with ``--weights``);
the layer-surgery folder is read once; the 2:4 folder goes through its transform; without the
plugin that made a folder, loading it says which method it needs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

FAST = ["--eval", "none", "--calib-count", "3", "--calib-size", "16", "--bench-size", "24", "--repeats", "1"]


@pytest.fixture
def cli(cli, monkeypatch, tmp_path):
    """conftest's in-process ``genedit``, run from ``tmp_path`` (default output folders land there)."""
    monkeypatch.chdir(tmp_path)
    return cli


def _optimize(plugins, model, method, out, images, **params):
    from genedit_core.requests import OptimizeRequest

    fast = {"eval": "none", "calib": images, "calib_size": "16", "calib_count": "3", "bench_size": "24"}
    request = OptimizeRequest(method, model.card, model, out, {**fast, "repeats": "1", **params})
    return plugins.hook.optimize(request=request)


@pytest.mark.parametrize("backend", ["onnxruntime", "pt2e"])
def test_int8_folder_runs_with_genedit_run(cli, images, tmp_path, backend, monkeypatch):
    pytest.importorskip("onnxruntime" if backend == "onnxruntime" else "torchao")
    compiled = []
    if backend == "onnxruntime":
        pytest.importorskip("onnxscript")
    else:  # Inductor takes a minute per graph here; the program runs the same uncompiled
        monkeypatch.setattr(torch, "compile", lambda module, **kw: compiled.append(module) or module)
    folder = tmp_path / "int8"
    code, _, err = cli(
        "optimize", "tiny-edsr", "--method", "quantize-int8", "--backend", backend, "--target", "avx2",
        "--calib", images, *FAST, "--out", str(folder), "-q",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((folder / "config.json").read_text())["genedit"]
    assert not (folder / "model.safetensors").exists()
    assert config["file"] == ("model.int8.onnx" if backend == "onnxruntime" else "model.int8.pt2")
    assert config.get("transform") == (None if backend == "onnxruntime" else "quantize-int8")
    compiled.clear()

    photo = f"{images}/im1.png"
    code, _, err = cli(
        "run", "upscale", "-m", "tiny-edsr", "--weights", str(folder), photo, "-o", "int8.png", "-q"
    )
    assert code == 0, err
    assert len(compiled) == (backend == "pt2e")  # the loaded program is compiled, once
    code, _, err = cli("run", "upscale", "-m", "tiny-edsr", "--dtype", "fp32", photo, "-o", "fp32.png", "-q")
    assert code == 0, err
    got = np.asarray(Image.open(tmp_path / "int8.png"), dtype=np.float32)
    ref = np.asarray(Image.open(tmp_path / "fp32.png"), dtype=np.float32)
    assert got.shape == ref.shape == (96, 80, 3)
    assert float(np.abs(got - ref).mean()) < 3.0  # int8 stays close to fp32 (0-255 scale)


def test_surgery_folder_loads_reading_the_weights_once(plugins, tiny, tmp_path, images, monkeypatch):
    """Hashing and parsing each happen once: the owner builds from zeros of the base shapes."""
    import genedit_core.checkpoint as checkpoint
    import genedit_core.weights as weights
    from genedit_core.api import load

    _optimize(plugins, tiny, "prune-structured", tmp_path / "p", images, amount="0.5")
    calls: dict[str, list[str]] = {"read": [], "sha": []}
    real_read, real_sha = checkpoint.load_state_dict, weights.sha256_of

    def counting_read(path):
        calls["read"].append(str(path))
        return real_read(path)

    def counting_sha(path):
        calls["sha"].append(str(path))
        return real_sha(path)

    monkeypatch.setattr(checkpoint, "load_state_dict", counting_read)
    monkeypatch.setattr(weights, "sha256_of", counting_sha)
    again = load("tiny-edsr", weights=str(tmp_path / "p"), device="cpu", dtype="fp32")
    file = str(tmp_path / "p" / "model.safetensors")
    assert calls == {"read": [file], "sha": [file]}
    assert again.module.conv_first.out_channels == 4 and again.weights.path.name == "model.safetensors"
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert torch.allclose(again.forward(x), tiny.forward(x), atol=1e-6)


def test_sparsity_folder_goes_through_its_transform(plugins, tiny, tmp_path, images, monkeypatch):
    import genedit_compress.artifacts as artifacts

    from genedit_core.api import load

    _optimize(plugins, tiny, "sparsity", tmp_path / "s", images, force="true")
    assert json.loads((tmp_path / "s" / "config.json").read_text())["genedit"]["transform"] == "sparsity"
    seen = []
    real = artifacts.transform
    monkeypatch.setattr(artifacts, "transform", lambda request: seen.append(request.method) or real(request))
    again = load("tiny-edsr", weights=str(tmp_path / "s"), device="cpu", dtype="fp32")
    assert seen == ["sparsity"]
    w = again.module.body[0].conv1.weight.detach().reshape(8, -1)[:, :72].reshape(8, -1, 4)
    assert bool(((w != 0).sum(-1) <= 2).all())  # the 2:4 pattern came back from the folder
    x = torch.rand(1, 3, 8, 10)
    with torch.no_grad():
        assert torch.equal(again.forward(x), tiny.forward(x))


def test_a_folder_without_the_plugin_of_its_method_says_so(plugins, tiny, tmp_path, images):
    from compress_tiny import TinyPlugin

    from genedit_core.api import load
    from genedit_core.errors import PluginError
    from genedit_core.testing import plugins_installed

    _optimize(plugins, tiny, "prune-structured", tmp_path / "p", images, amount="0.5")
    with plugins_installed(tinysr=TinyPlugin()), pytest.raises(PluginError) as exc:
        load("tiny-edsr", weights=str(tmp_path / "p"), device="cpu", dtype="fp32")
    assert "made by method 'prune-structured', which no loaded plugin provides" in str(exc.value)
