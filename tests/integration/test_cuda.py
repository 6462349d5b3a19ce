"""CUDA paths, run where a GPU is visible and skipped elsewhere (CI has none).

They check what the CPU suite cannot: device and dtype choice on a GPU, GPU results against the CPU
reference, training and resume on CUDA, the DDP device rule with fewer GPUs than processes, and 2:4 sparse tensor cores.

An integration test (tests/integration/): GPU kernels are checked on the real networks (EDSR, ESPCN,
DCGAN) and genedit-compress's 2:4 sparsity, where a toy model would not exercise them.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import genedit_core
from genedit_core.cards import ModelCard
from genedit_core.device import choose_device, choose_dtype
from genedit_core.model import LoadedModel
from genedit_core.tiling import run_tiled

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TESTS = Path(__file__).resolve().parents[1]  # _tiny_task.py lives there
CARD = ModelCard(
    name="cuda-test", tasks=("upscale",), family="test", summary="cuda tests", needs_weights=False
)


def _image(h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, h).view(1, 1, h, 1)
    xx = torch.linspace(0, 1, w).view(1, 1, 1, w)
    base = 0.5 + 0.3 * torch.sin(7 * yy + 5 * xx + torch.arange(3).view(1, 3, 1, 1))
    return (0.7 * base + 0.3 * torch.rand(1, 3, h, w, generator=g)).clamp(0, 1)


def test_auto_device_is_cuda_and_auto_dtype_is_half_for_a_half_safe_card():
    dev = choose_device("auto")
    assert dev.type == "cuda"
    card = genedit_core.get_card("edsr")
    dt = choose_dtype("auto", dev, card)
    assert (
        dt in (torch.float16, torch.bfloat16) if (card.fp16_safe or card.bf16_safe) else dt == torch.float32
    )
    assert choose_dtype("fp16", dev, card) == torch.float16  # allowed on CUDA, refused on CPU


@pytest.mark.parametrize("name", ["edsr", "espcn"])
def test_bundled_upscaler_on_cuda_matches_cpu(name):
    x = _image(70, 90)
    cpu = genedit_core.load(name, device="cpu", dtype="fp32")
    ref = run_tiled(cpu, x, None)
    for dtype, mean_tol in (("fp32", 0.5 / 255), ("fp16", 1.5 / 255), ("bf16", 3 / 255)):
        gpu = genedit_core.load(name, device="cuda", dtype=dtype)
        out = run_tiled(gpu, x, None)
        assert out.device.type == "cpu" and out.shape == ref.shape
        diff = (out - ref).abs()
        assert float(diff.mean()) <= mean_tol, f"{name} {dtype}: mean diff {float(diff.mean()):.5f}"
        assert float(diff.max()) <= 0.1, f"{name} {dtype}: max diff {float(diff.max()):.4f}"


def _conv_model(device: torch.device, forward=None) -> tuple[LoadedModel, nn.Module]:
    torch.manual_seed(3)
    net = (
        nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 12, 3, padding=1),
            nn.PixelShuffle(2),
            nn.Sigmoid(),
        )
        .to(device)
        .eval()
    )
    return LoadedModel(CARD, net, forward or net, device, torch.float32, scale=2), net


def test_tiled_on_cuda_equals_whole_image():
    model, _ = _conv_model(torch.device("cuda"))
    x = _image(150, 190)
    whole = run_tiled(model, x, None)
    tiled = run_tiled(model, x, tile=64, overlap=8)
    assert tiled.shape == whole.shape == (1, 3, 300, 380)
    assert float((tiled - whole).abs().max()) <= 1 / 255


def test_generate_on_cuda_is_seeded_and_close_to_cpu():
    gpu = genedit_core.load("dcgan", device="cuda", dtype="fp32")
    a = gpu.generate(seeds=[0, 1, 2])
    b = gpu.generate(seeds=[2])
    assert float((a[2:3].cpu() - b.cpu()).abs().max()) < 1e-3
    cpu = genedit_core.load("dcgan", device="cpu", dtype="fp32").generate(seeds=[0, 1, 2])
    assert float((a.cpu() - cpu).abs().mean()) < 2e-3


def _tiny_train(run: Path, *extra: str, env_extra: dict | None = None, launcher: list[str] | None = None):
    env = {**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.update(env_extra or {})
    args = ["train.steps=30", "train.ckpt_every=10", "train.log_every=1", *extra]
    cmd = [*(launcher or [sys.executable]), str(TESTS / "_tiny_task.py"), str(run), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_training_on_cuda_learns_and_resumes_to_the_same_weights(tmp_path):
    full = _tiny_train(tmp_path / "full", "train.device=cuda", "train.deterministic=true")
    assert full.returncode == 0, full.stderr[-2000:]
    hist = json.loads((tmp_path / "full" / "history-rank0.json").read_text())
    assert hist[-1]["loss"] < hist[0]["loss"] * 0.7
    short = _tiny_train(tmp_path / "cut", "train.device=cuda", "train.deterministic=true", "train.steps=20")
    assert short.returncode == 0, short.stderr[-2000:]
    resumed = _tiny_train(tmp_path / "cut", "train.device=cuda", "train.deterministic=true", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = torch.load(tmp_path / "full" / "final-rank0.pt")
    b = torch.load(tmp_path / "cut" / "final-rank0.pt")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_ddp_auto_with_more_processes_than_gpus_falls_back_to_cpu(tmp_path):
    n = torch.cuda.device_count() + 1
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n)]
    ok = _tiny_train(
        tmp_path / "auto", "train.batch_size=8", launcher=launcher, env_extra={"OMP_NUM_THREADS": "1"}
    )
    assert ok.returncode == 0, ok.stderr[-3000:]
    bad = _tiny_train(
        tmp_path / "cuda",
        "train.batch_size=8",
        "train.device=cuda",
        launcher=launcher,
        env_extra={"OMP_NUM_THREADS": "1"},
    )
    assert bad.returncode != 0
    assert f"needs {n} GPUs" in bad.stderr


def test_two_four_sparsity_runs_linear_layers_on_sparse_kernels(tmp_path):
    from genedit_compress import sparsity
    from genedit_compress.optimizing import Context

    cuda = torch.device("cuda")
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(512, 1024), nn.ReLU(), nn.Linear(1024, 512)).to(cuda, torch.float16).eval()
    dense = copy.deepcopy(net)
    x = torch.randn(64, 512, device=cuda, dtype=torch.float16)
    with torch.no_grad():
        for m in dense:
            if isinstance(m, nn.Linear):
                m.weight.mul_(sparsity.two_four_mask(m.weight))
        expected = dense(x).float().clone()
    model = LoadedModel(CARD, net, net, cuda, torch.float16)
    ctx = Context(model=model, params={}, out=tmp_path, bench_input=x, evaluation=None)
    outcome = sparsity.apply(model, ctx)
    assert outcome.details["sparse_kernels"] == ["0", "2"]
    from torch.sparse import SparseSemiStructuredTensor

    assert all(isinstance(m.weight, SparseSemiStructuredTensor) for m in (net[0], net[2]))
    with torch.no_grad():
        got = net(x).float()
    assert float((got - expected).abs().max()) < 2e-2 * float(expected.abs().max())


def test_bench_cli_on_cuda_reports_the_gpu():
    proc = subprocess.run(
        [sys.executable, "-m", "genedit_cli", "bench", "espcn", "--size", "128", "--device", "cuda"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "cuda" in (proc.stdout + proc.stderr).lower()
