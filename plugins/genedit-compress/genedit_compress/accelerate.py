"""``accelerate``: channels_last + bf16 (where the hardware computes it natively) + ``torch.compile``.

Nothing new is saved: the speed-up is a way of running the same weights, so the report is the
product. bf16 runs under ``torch.autocast`` rather than by casting the weights, so plugin wrappers
that keep fp32 constants (mean shifts, ranges) keep working; Inductor's freezing folds the weight
casts and pre-packs the conv weights for oneDNN, which is where most of the CPU gain comes from.

Image sizes vary, and a compiled graph is specialised to its input shape. Two ways out:
``--shapes bucket`` (default) pads each input up to a multiple of ``--bucket`` pixels (64) and crops
the output, so at most a handful of graphs are ever compiled; ``--shapes dynamic`` compiles one
graph with symbolic sizes (``dynamic=True``). docs/optimize.md has the measurement behind the
default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from genedit_core.sdk import cpu_has_native_bf16, get_bool, get_choice, get_int

from ._wrap import require_module
from .optimizing import Context, Outcome


def bf16_available(model: Any) -> bool:
    dev = getattr(model.device, "type", "cpu")
    if dev == "cuda":
        return torch.cuda.is_bf16_supported()
    return dev == "cpu" and cpu_has_native_bf16()


class Accelerated:
    """The compiled forward, with shape bucketing and bf16 autocast around it."""

    def __init__(
        self,
        forward: Callable,
        *,
        scale: int,
        device_type: str,
        bf16: bool,
        channels_last: bool,
        shapes: str = "bucket",
        bucket: int = 64,
        multiple: int = 1,
    ):
        self.scale = scale
        self.device_type = device_type
        self.bf16 = bf16
        self.channels_last = channels_last
        self.shapes = shapes
        self.bucket = max(bucket, multiple)
        self.compiled = torch.compile(forward, dynamic=shapes == "dynamic")
        self.seen_shapes: set[tuple[int, ...]] = set()

    def _padded(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        h, w = x.shape[-2:]
        if self.shapes != "bucket" or x.ndim != 4:  # latents (generators) have no spatial size
            return x, h, w
        ph, pw = (-h) % self.bucket, (-w) % self.bucket
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        return x, h, w

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import torch._inductor.config as inductor_config

        xin, h, w = self._padded(x)
        if self.channels_last and xin.ndim == 4:
            xin = xin.contiguous(memory_format=torch.channels_last)
        self.seen_shapes.add(tuple(xin.shape))
        with (
            torch.no_grad(),
            inductor_config.patch(freezing=True),
            torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16),
        ):
            y = self.compiled(xin)
        y = y.float()
        return y[..., : h * self.scale, : w * self.scale] if (xin.shape[-2:] != x.shape[-2:]) else y


def apply(model: Any, ctx: Context) -> Outcome:
    module = require_module(model)
    use_bf16 = get_bool(ctx.params, "bf16", bf16_available(model) and bool(model.card.bf16_safe))
    channels_last = get_bool(ctx.params, "channels_last", True)
    shapes = get_choice(ctx.params, "shapes", "bucket", ("bucket", "dynamic"))
    if channels_last:
        module.to(memory_format=torch.channels_last)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    fast = Accelerated(
        model.forward,
        scale=model.scale,
        device_type=getattr(model.device, "type", "cpu"),
        bf16=use_bf16,
        channels_last=channels_last,
        shapes=shapes,
        bucket=get_int(ctx.params, "bucket", 64, lo=1),
        multiple=model.size_multiple,
    )
    details = {
        "bf16": use_bf16,
        "channels_last": channels_last,
        "compile": "inductor, freezing",
        "shapes": shapes,
        "bucket": fast.bucket if shapes == "bucket" else None,
        "bf16_reason": "native bf16 and the card marks the model bf16-safe"
        if use_bf16
        else "no native bf16 here, or the card does not mark the model bf16-safe",
    }
    return Outcome(forward=fast, details=details, save_weights=False)
