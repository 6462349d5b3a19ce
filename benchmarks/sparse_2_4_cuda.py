"""2:4 semi-structured sparsity against dense on a CUDA GPU, for docs/optimize.md.

    python benchmarks/sparse_2_4_cuda.py          # needs an NVIDIA GPU of compute capability 8.0+

For fp16 Linear layers of two sizes: the same layer dense (weights already 2:4-masked, so both
compute the same function) and converted with ``to_sparse_semi_structured``, each timed over 50
calls after 5 warm-ups with CUDA synchronisation, in one process. Prints the ratio and the max abs
difference between the two outputs.
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn


def timed(layer: nn.Module, x: torch.Tensor, calls: int = 50, warmup: int = 5) -> float:
    for _ in range(warmup):
        layer(x)
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        layer(x)
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls


def main() -> int:
    if not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] < 8:
        print("needs a CUDA GPU of compute capability 8.0+ (2:4 sparse tensor cores); nothing measured")
        return 1
    from torch.sparse import to_sparse_semi_structured

    torch.manual_seed(0)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}")
    for n in (4096, 8192):
        layer = nn.Linear(n, n).half().cuda().eval()
        x = torch.randn(n, n, device="cuda", dtype=torch.half)
        keep = torch.ones(n, n // 4, 4, device="cuda", dtype=torch.bool)
        keep[..., :2] = False
        with torch.no_grad():
            layer.weight.mul_(keep.reshape(n, n))
            dense_s = timed(layer, x)
            reference = layer(x)
            layer.weight = nn.Parameter(to_sparse_semi_structured(layer.weight))
            sparse_s = timed(layer, x)
            diff = (layer(x) - reference).abs().max().item()
        print(
            f"Linear {n}x{n} fp16, batch {n}: dense {dense_s * 1e3:.3f} ms, 2:4 {sparse_s * 1e3:.3f} ms, "
            f"speed-up x{dense_s / sparse_s:.2f}, max abs diff {diff:.3g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
