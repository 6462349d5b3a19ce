"""`genedit optimize` on a generator (DCGAN): latents in, not image crops; the result still generates.

An integration test (tests/integration/): genedit-compress's methods applied to genedit-gan's model,
two real plugins meeting only through the core (latent_shape, the transform step of loading).
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import genedit_core

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("genedit_compress") is None or importlib.util.find_spec("genedit_gan") is None,
    reason="needs the genedit-compress and genedit-gan plugins",
)


def test_structured_pruning_and_finetune_on_dcgan(cli, tmp_path):
    out = tmp_path / "pruned"
    args = ["--method", "prune-structured", "--amount", "0.5", "--finetune-steps", "12", "--bench-batch", "4"]
    res = cli("optimize", "dcgan", *args, "--out", str(out))
    assert res.code == 0, res.err
    assert "latent 4×100" in res.out
    report = json.loads((out / "report.json").read_text())
    assert report["bench_input_shape"] == [4, 100]
    assert report["after"]["params"] < 0.5 * report["before"]["params"]
    assert 5.0 < report["after"]["fidelity_psnr"] < 100.0  # changed, but still close to the original
    assert report["details"]["finetune"]["loss_last"] < report["details"]["finetune"]["loss_first"]
    # the folder is a generator again: same seeds, images of the original's size
    original = genedit_core.load("dcgan", device="cpu", dtype="fp32").generate(seeds=[0, 1])
    pruned = genedit_core.load("dcgan", weights=str(out), device="cpu", dtype="fp32").generate(seeds=[0, 1])
    assert pruned.shape == original.shape
    assert float((pruned - original).abs().mean()) < 0.25
    gen = cli(
        "generate", "dcgan", "--weights", str(out), "--seeds", "0-1", "--out-dir", str(tmp_path / "png")
    )
    assert gen.code == 0, gen.err
    assert len(list((tmp_path / "png").glob("*.png"))) == 2


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime")
def test_int8_and_onnx_export_take_latents(cli, tmp_path):
    res = cli("optimize", "dcgan", "--method", "quantize-int8", "--out", str(tmp_path / "q"))
    assert res.code == 0, res.err
    report = json.loads((tmp_path / "q" / "report.json").read_text())
    assert report["after"]["fidelity_psnr"] > 25.0
    exp = cli("export", "dcgan", "--format", "onnx", "--out", str(tmp_path / "g.onnx"))
    assert exp.code == 0, exp.err
    model = genedit_core.load("dcgan", weights=str(tmp_path / "g.onnx"), device="cpu")
    assert model.latent_shape == (100,) and model.in_channels == 0 and model.takes_latent
    z = torch.randn(3, 100, generator=torch.Generator().manual_seed(0))
    torch_model = genedit_core.load("dcgan", device="cpu", dtype="fp32")
    with torch.no_grad():
        assert float((model.forward(z) - torch_model.forward(z)).abs().max()) < 1e-4


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime")
def test_generate_from_an_exported_onnx_generator_matches_torch(cli, tmp_path):
    assert cli("export", "dcgan", "--format", "onnx", "--out", str(tmp_path / "g.onnx")).code == 0
    for name, extra in (("onnx", ["--weights", str(tmp_path / "g.onnx")]), ("torch", [])):
        res = cli("generate", "dcgan", *extra, "--seeds", "3-4", "--out-dir", str(tmp_path / name))
        assert res.code == 0, res.err
    from PIL import Image

    for seed in (3, 4):
        a = torch.tensor(list(Image.open(tmp_path / "onnx" / f"seed{seed:04d}.png").getdata()))
        b = torch.tensor(list(Image.open(tmp_path / "torch" / f"seed{seed:04d}.png").getdata()))
        assert a.shape == b.shape and int((a - b).abs().max()) <= 1


def test_a_method_with_nothing_to_do_is_a_usage_error_and_leaves_no_folder(cli, tmp_path):
    out = tmp_path / "dw"
    res = cli("optimize", "dcgan", "--method", "depthwise-separable", "--out", str(out), "--quiet")
    assert res.code == 2  # --quiet: no progress lines, so stderr holds only the error
    assert "has no k×k Conv2d" in res.err and len(res.err.strip().splitlines()) == 1
    assert not out.exists()
