"""EDSR-baseline x2 on a 512×512 input: plain fp32 NCHW eager against genedit's default path.

genedit's default is what ``genedit run upscale`` does: ``genedit_core.load(..., dtype="auto")``
picks bf16 where the CPU computes it natively (AVX512-BF16 / AMX) and the card marks the model
bf16-safe, and ``genedit_core.tiling.run_model`` feeds it a channels-last tensor. The baseline is
the same network in fp32 with an NCHW input, called directly.

Printed: median time of each (interleaved runs), their ratio, the PSNR of the default path's output
against the fp32 output (RGB and BT.601 Y, 8-bit, via ``genedit_core.metrics``), and the achieved
GFLOP/s of each against this machine's conv peak, measured here with a 64→64 3×3 conv on a 256²
input (bf16 channels-last, and fp32 NCHW for the baseline).

Weights: the bundled ``edsr-baseline-x2.safetensors`` of genedit-sr when it is installed, else
random weights of the right size (said in the output; timings do not depend on the values, the
PSNR between the two paths does a little).

    .venv/bin/python benchmarks/sr_inference.py [--repeats 3 --threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from genedit_sr.layouts import make_module
from genedit_sr.training import RECIPES

import genedit_core
from genedit_core.device import dtype_name
from genedit_core.metrics import psnr, rgb_to_y, to_uint8_range
from genedit_core.tiling import run_model

SIZE = 512
BUNDLED = "weights/edsr-baseline-x2.safetensors"


def weights_file(tmp: Path) -> tuple[str, str]:
    """(path, description): the bundled x2 file, else a random-init one written in our layout."""
    ref = resources.files("genedit_sr").joinpath(BUNDLED)
    bundled = genedit_core.get_card("edsr-baseline").variant("bundled")
    if ref.is_file() and bundled is not None and bundled.file_for(2) is not None:
        return "bundled", f"bundled variant ({BUNDLED})"
    from safetensors.torch import save_file

    torch.manual_seed(0)
    hyper = {**RECIPES["edsr-baseline"], "scale": 2}
    module = make_module("edsr", hyper)
    path = tmp / "model.safetensors"
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    config = {"arch": "edsr", "layout": "edsr-basicsr", **{k: v for k, v in hyper.items() if k != "arch"}}
    (tmp / "config.json").write_text(json.dumps(config))
    return str(path), "RANDOM weights (no bundled edsr-baseline-x2.safetensors installed)"


def test_image() -> torch.Tensor:
    """scikit-image's astronaut (512×512, public domain), else seeded noise; 1×3×512×512 in 0–1."""
    try:
        from skimage import data

        arr = data.astronaut()[:SIZE, :SIZE, :3].astype(np.float32) / 255.0
    except Exception:
        arr = np.random.default_rng(0).random((SIZE, SIZE, 3), dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


def conv_flops(module: torch.nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds ×2 of every Conv2d in one forward pass, counted from the real output shapes."""
    total = 0.0

    def hook(conv, inputs, output):
        nonlocal total
        k = conv.kernel_size[0] * conv.kernel_size[1]
        total += 2.0 * output.numel() * (conv.in_channels // conv.groups) * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.inference_mode():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return total


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def conv_peak(dtype: torch.dtype, channels_last: bool, repeats: int = 10) -> float:
    """GFLOP/s of a 64→64 3×3 conv on 1×64×256×256, the machine's practical conv ceiling."""
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).to(dtype).eval()
    x = torch.randn(1, 64, 256, 256).to(dtype)
    if channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    flops = 2.0 * 64 * 64 * 9 * 256 * 256
    with torch.inference_mode():
        for _ in range(3):
            conv(x)
        return flops / median_time(lambda: conv(x), repeats) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path, interleaved")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for both paths")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="genedit-bench-") as tmp:
        weights, described = weights_file(Path(tmp))
        fast = genedit_core.load("edsr-baseline", scale=2, weights=weights, device="cpu", dtype="auto")
        base = genedit_core.load("edsr-baseline", scale=2, weights=weights, device="cpu", dtype="fp32")
    baseline = base.module.eval()  # plain fp32 module; its parameters are contiguous NCHW
    baseline = baseline.to(memory_format=torch.contiguous_format)
    x = test_image()

    def run_fp32() -> torch.Tensor:
        with torch.inference_mode():
            return baseline(x)

    def run_default() -> torch.Tensor:
        return run_model(fast, x)

    y_fp32 = run_fp32()  # warm-up, and the outputs to compare
    y_fast = run_default()
    t_fp32: list[float] = []
    t_fast: list[float] = []
    for _ in range(args.repeats):
        t_fp32.append(median_time(run_fp32, 1))
        t_fast.append(median_time(run_default, 1))
    m_fp32, m_fast = statistics.median(t_fp32), statistics.median(t_fast)

    a = to_uint8_range(y_fp32[0].float().numpy().transpose(1, 2, 0))
    b = to_uint8_range(y_fast[0].float().numpy().transpose(1, 2, 0))
    psnr_rgb, psnr_y = psnr(b, a), psnr(rgb_to_y(b), rgb_to_y(a))

    flops = conv_flops(baseline, x)
    peak_fast = conv_peak(fast.dtype, channels_last=fast.card.channels_last)
    peak_fp32 = conv_peak(torch.float32, channels_last=False)
    fast_kind = f"{dtype_name(fast.dtype)}{' channels_last' if fast.card.channels_last else ' NCHW'}"
    g_fp32, g_fast = flops / m_fp32 / 1e9, flops / m_fast / 1e9

    print(f"weights      : {described}")
    print(f"input        : 1×3×{SIZE}×{SIZE} -> {tuple(y_fp32.shape)}, {args.threads} torch threads")
    print(
        f"work         : {flops / 1e9:.1f} GFLOP per pass ({flops / SIZE**2 / 1e6:.2f} MFLOP per input pixel)"
    )
    print(f"fp32 eager   : median {m_fp32:.3f} s over {args.repeats}  -> {g_fp32:.1f} GFLOP/s")
    print(
        f"genedit path : median {m_fast:.3f} s over {args.repeats}  -> {g_fast:.1f} GFLOP/s "
        f"(dtype {dtype_name(fast.dtype)}, channels_last {fast.card.channels_last})"
    )
    print(f"speed-up     : {m_fp32 / m_fast:.2f}x  (time ratio genedit/fp32 = {m_fast / m_fp32:.3f})")
    print(f"agreement    : PSNR of genedit output vs fp32 output: {psnr_rgb:.2f} dB RGB, {psnr_y:.2f} dB Y")
    from genedit_sr.evaluation import evaluate_upscaler, reference_images

    refs = reference_images("builtin:skimage-photos:heldout")
    with torch.inference_mode():
        q_fp32 = evaluate_upscaler(baseline, refs, 2)["summary"]["psnr"]
    q_fast = evaluate_upscaler(lambda t: run_model(fast, t), refs, 2)["summary"]["psnr"]
    print(
        f"quality      : held-out Y-PSNR (builtin:skimage-photos:heldout) fp32 {q_fp32:.3f} dB, "
        f"genedit path {q_fast:.3f} dB, change {q_fast - q_fp32:+.3f} dB (target: |change| < 0.05 dB)"
    )
    print(
        f"conv peak    : {peak_fast:.1f} GFLOP/s {fast_kind}, {peak_fp32:.1f} GFLOP/s fp32 NCHW (64->64 3x3, 256²)"
    )
    print(
        f"efficiency   : genedit path {100 * g_fast / peak_fast:.0f} % of the {fast_kind} peak; "
        f"fp32 eager {100 * g_fp32 / peak_fp32:.0f} % of the fp32 peak"
    )


if __name__ == "__main__":
    main()
