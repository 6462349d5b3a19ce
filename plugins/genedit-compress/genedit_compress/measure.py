"""What every report measures: parameters, stored size, latency, peak memory and quality.

Latency is the median of ``repeats`` timed calls after warm-up calls (which also absorb
torch.compile's compilation), so one slow call on the shared CPU does not move the figure.
Peak memory is the device's peak allocation on CUDA; on a CPU it is the largest resident-set
growth seen by a 1 ms sampler during the timed calls (PyTorch keeps no CPU allocation counter).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from genedit_core.sdk import ProgressFn, silent


def stored_bytes(module: nn.Module) -> int:
    """Size of the module's state dict as a safetensors file, without writing it."""
    from safetensors.torch import save

    from ._wrap import state_for_saving

    return len(save(state_for_saving(module)))


def _sync(device: Any) -> None:
    if getattr(device, "type", "cpu") == "cuda":
        torch.cuda.synchronize(device)


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            import os

            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


class _RssSampler:
    def __init__(self) -> None:
        self.base = _rss_bytes()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.001)

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def time_forward(
    fn: Callable[[torch.Tensor], Any],
    x: torch.Tensor,
    *,
    repeats: int = 5,
    warmup: int = 1,
    progress: ProgressFn = silent,
    phase: str = "timing",
) -> dict[str, float]:
    """Median / min latency in ms, images per second and peak memory in MB for ``fn(x)``.

    ``progress(phase, calls done, calls in all)`` follows every call, warm-up included: on a slow
    CPU one call of a large model can take half a minute.
    """
    device = x.device
    calls = max(warmup, 0) + max(repeats, 1)
    progress(phase, 0, calls)
    with torch.inference_mode():
        for i in range(max(warmup, 0)):
            fn(x)
            progress(phase, i + 1, calls)
        _sync(device)
        times = []
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        with _RssSampler() as rss:
            for _ in range(max(repeats, 1)):
                start = time.perf_counter()
                fn(x)
                _sync(device)
                times.append(time.perf_counter() - start)
                progress(phase, calls - max(repeats, 1) + len(times), calls)
    peak = (torch.cuda.max_memory_allocated(device) - base) if device.type == "cuda" else rss.peak - rss.base
    median = statistics.median(times)
    return {
        "median_ms": median * 1e3,
        "min_ms": min(times) * 1e3,
        "images_per_s": x.shape[0] / median if median > 0 else float("inf"),
        "peak_mem_mb": max(peak, 0) / 2**20,
        "repeats": len(times),
    }


def conv_flops(
    module: nn.Module, x: torch.Tensor, forward: Callable[[torch.Tensor], Any] | None = None
) -> int:
    """Multiply-accumulates ×2 of every conv / linear layer for one call on ``x`` (hooks count them)."""
    total = 0

    def hook(mod: nn.Module, inputs: Any, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            total += 2 * output.numel() * k
        elif isinstance(mod, nn.ConvTranspose2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.out_channels // mod.groups)
            total += 2 * inputs[0].numel() * k
        elif isinstance(mod, nn.Linear):
            total += 2 * output.numel() * mod.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    ]
    try:
        with torch.inference_mode():
            (forward or module)(x)
    finally:
        for h in handles:
            h.remove()
    return total


#: The conv that sets a machine's practical peak: 64→64 channels, 3×3, on 1×64×256×256 (at 128² a call is
#: short enough that, on a loaded machine, stalls waiting for a core dominate it).
PEAK_SHAPE = (1, 64, 256, 256)


def peak_conv(
    device: Any = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[nn.Module, torch.Tensor, float]:
    """The peak conv, its channels_last input and its FLOPs per call (see :func:`conv_peak`).

    Why this conv: it is the bulk of every EDSR/RRDB-style network and the shape oneDNN and
    OpenVINO tune hardest, so a path's GFLOP/s over this figure says how much of the machine's
    reachable speed it uses. Returned rather than timed here so that a benchmark can time it in
    the same rounds as what it is compared with, under the same load.
    """
    n, c, h, w = PEAK_SHAPE
    conv = torch.nn.Conv2d(c, c, 3, padding=1).to(device, dtype).eval()
    conv = conv.to(memory_format=torch.channels_last)
    x = torch.rand(n, c, h, w, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
    return conv, x, 2.0 * c * c * 9 * n * h * w


def conv_peak(device: Any = "cpu", dtype: torch.dtype = torch.float32, repeats: int = 5) -> float:
    """GFLOP/s of a channels_last 64→64 3×3 conv on ``device`` at ``dtype`` (median of ``repeats``)."""
    conv, x, flops = peak_conv(device, dtype)
    times = []
    with torch.inference_mode():
        for _ in range(2):
            conv(x)
        _sync(x.device)
        for _ in range(max(repeats, 1)):
            start = time.perf_counter()
            conv(x)
            _sync(x.device)
            times.append(time.perf_counter() - start)
    return flops / statistics.median(times) / 1e9
