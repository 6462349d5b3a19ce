"""Depthwise-separable replacement, int8 quantization and acceleration (one small compile)."""

from __future__ import annotations

import json

import compress_tiny
import pytest
import torch
from torch import nn

from genedit_core.requests import OptimizeRequest

FAST = dict(compress_tiny.FAST)


@pytest.fixture(autouse=True)
def _small_data(images):
    FAST["calib"] = FAST["eval"] = images
    yield
    FAST.pop("calib")
    FAST.pop("eval")


def optimize(plugins, model, method, out, **params):
    request = OptimizeRequest(
        method, model.card, model, out, {**FAST, **{k: str(v) for k, v in params.items()}}
    )
    return plugins.hook.optimize(request=request)


def test_rank1_init_is_exact_for_separable_kernels():
    from genedit_compress.depthwise import svd_init
    from genedit_compress.surgery import depthwise_from

    torch.manual_seed(0)
    conv = nn.Conv2d(6, 5, 3, padding=1)
    a, b = torch.randn(5, 6), torch.randn(6, 3, 3)
    with torch.no_grad():
        conv.weight.copy_(a[:, :, None, None] * b[None])
    pair = depthwise_from(conv)
    svd_init(conv, pair)
    x = torch.randn(2, 6, 11, 7)
    with torch.no_grad():
        assert torch.allclose(pair(x), conv(x), atol=1e-5)
    assert sum(p.numel() for p in pair.parameters()) == 6 * 9 + 6 * 5 + 5


def test_depthwise_method_reports_and_reloads(plugins, tiny, tmp_path):
    from genedit_core.api import load

    report = optimize(plugins, tiny, "depthwise-separable", tmp_path, distill_steps=10)
    d = report["details"]
    assert d["replaced"] == 6  # every 8->8 and 8->32 conv; the RGB-facing ones stay
    assert d["flops_ratio"] < 0.5 and report["after"]["params"] < report["before"]["params"]
    errs = d["layer_errors"]["body.0.conv1"]
    assert errs["distilled_rel_err"] <= errs["rank1_rel_err"]
    again = load("tiny-edsr", weights=str(tmp_path), device="cpu", dtype="fp32")
    assert type(again.module.body[0].conv1).__name__ == "DepthwiseSeparable"
    x = torch.rand(1, 3, 10, 13)
    with torch.no_grad():
        assert torch.allclose(again.forward(x), tiny.forward(x), atol=1e-6)
    assert "latency_ms" in report["after"] and json.loads((tmp_path / "report.json").read_text())["details"]


def test_pt2e_int8_close_to_fp32(plugins, tiny):
    pytest.importorskip("torchao")
    from genedit_compress.quantize import quantize_pt2e

    calib = [torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    converted = quantize_pt2e(tiny, calib)
    ops = {str(n.target) for n in converted.graph.nodes if n.op == "call_function"}
    assert any("quantize_per_channel" in o for o in ops) and any("quantize_per_tensor" in o for o in ops)
    x = torch.rand(1, 3, 20, 18)
    with torch.no_grad():
        ref, got = tiny.forward(x), converted(x)
    assert got.shape == ref.shape == (1, 3, 40, 36)
    assert float((got - ref).abs().max()) < 0.05


@pytest.mark.parametrize("target", ["avx2", "vnni"])
def test_onnxruntime_int8_folder_reloads(plugins, tiny, tmp_path, images, target):
    """Both int8 paths: each artifact records its CPU kind; quality is checked where the host runs it.

    ``avx2`` (7-bit weights) runs faithfully on every CPU. ``vnni`` (full range) saturates on x86
    without VNNI, so on such a host the test checks the recorded settings and the loader's warning.
    """
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    import warnings

    import numpy as np
    import onnx
    from PIL import Image

    from genedit_core.api import load
    from genedit_core.device import cpu_has_int8_dot, is_x86

    report = optimize(plugins, tiny, "quantize-int8", tmp_path, backend="onnxruntime", target=target)
    d = report["details"]
    assert d["backend"] == "onnxruntime" and "model.int8.onnx" in report["files"]
    assert (d["target_cpu"], d["reduce_range"], d["target_chosen_by"]) == (
        target,
        target == "avx2",
        "--target",
    )
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "model.int8.onnx")).metadata_props}
    assert meta["genedit.int8.target"] == target
    assert meta["genedit.int8.reduce_range"] == ("true" if target == "avx2" else "false")
    assert meta["genedit.model"] == "tiny-edsr"  # the export's own metadata survives quantization
    config = json.loads((tmp_path / "config.json").read_text())["genedit"]
    recipe = config["compress"]
    assert recipe["target_cpu"] == target and recipe["reduce_range"] == (target == "avx2")
    # the folder names its file; onnxruntime runs it, so no transform is recorded
    assert config["file"] == "model.int8.onnx" and "transform" not in config

    runs_faithfully = target == "avx2" or not is_x86() or cpu_has_int8_dot()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load("tiny-edsr", weights=str(tmp_path), device="cpu")
    mismatch = [w for w in caught if "lacks VNNI" in str(w.message)]
    assert bool(mismatch) == (not runs_faithfully)
    if not runs_faithfully:
        return
    assert report["after"]["fidelity_psnr"] > 30
    photo = np.asarray(Image.open(f"{images}/im1.png"), dtype=np.float32) / 255
    x = torch.from_numpy(photo[:15, :21].transpose(2, 0, 1).copy())[None]  # odd size, in-distribution
    with torch.no_grad():
        got, ref = again.forward(x), tiny.forward(x)
    assert got.shape == ref.shape == (1, 3, 30, 42)
    assert float((got - ref).abs().mean()) < 0.01


def test_int8_target_follows_the_host_cpu(monkeypatch):
    from genedit_compress.quantize import int8_target

    import genedit_core.device as device

    monkeypatch.setattr(device, "is_x86", lambda: True)
    monkeypatch.setenv("GENEDIT_CPU_VNNI", "0")
    assert int8_target({}) | {"chosen_by": ""} == {"target": "avx2", "reduce_range": True, "chosen_by": ""}
    monkeypatch.setenv("GENEDIT_CPU_VNNI", "1")
    assert int8_target({})["target"] == "vnni" and int8_target({})["reduce_range"] is False
    assert int8_target({"target": "avx2"})["reduce_range"] is True  # quantizing for another machine
    monkeypatch.setattr(device, "is_x86", lambda: False)
    assert int8_target({})["reduce_range"] is False  # 32-bit accumulation off x86


def test_dynamic_int8_needs_linear_layers(plugins, tiny, tmp_path):
    from genedit_core.errors import UsageError

    with pytest.raises(UsageError, match="has none"):
        optimize(plugins, tiny, "quantize-int8", tmp_path, dynamic="true", eval="none")


def test_accelerate_buckets_sizes_and_matches_eager(plugins, tiny, tmp_path):
    report = optimize(
        plugins, tiny, "accelerate", tmp_path, bf16="false", bucket=32, bench_size="20", eval="none"
    )
    assert report["details"]["shapes"] == "bucket" and report["details"]["bf16"] is False
    assert sorted(report["files"]) == ["README.md", "report.json"]  # nothing new saved
    assert report["speedup"] > 0
    from genedit_compress.accelerate import Accelerated

    fast = Accelerated(tiny.forward, scale=2, device_type="cpu", bf16=False, channels_last=False, bucket=64)
    for h, w in ((40, 33), (50, 60)):
        x = torch.rand(1, 3, h, w)
        with torch.no_grad():
            got, ref = fast(x), tiny.forward(x)
        assert got.shape == ref.shape == (1, 3, 2 * h, 2 * w)
        # Padding to the bucket only changes what the network sees beyond the bottom/right edge, so
        # outputs agree except within the receptive field (~8 input pixels here) of that edge.
        inner = (slice(None), slice(None), slice(0, 2 * (h - 8)), slice(0, 2 * (w - 8)))
        assert torch.allclose(got[inner], ref[inner], atol=1e-4)
    assert fast.seen_shapes == {(1, 3, 64, 64)}  # both sizes share one compiled graph
