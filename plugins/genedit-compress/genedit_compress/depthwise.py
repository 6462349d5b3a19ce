"""``depthwise-separable``: replace k×k convs by a depthwise k×k conv and a pointwise 1×1 conv.

Initialisation is closed-form then distilled. For each input channel ``i`` the original kernels
``K[:, i]`` (out × k²) are approximated by their best rank-1 factorisation (SVD):
``K[o, i] ≈ pw[o, i] · dw[i]``, which is exactly the depthwise-separable form. Each new pair is then
fitted to its original layer's outputs on calibration activations (``--distill-steps``, Adam),
and ``--finetune-steps`` optionally fits the whole network to the original outputs.

The layers that touch RGB (3 channels in or out) are kept: they are cheap and matter for colour.
The report gives parameters, FLOPs and measured latency; on a CPU depthwise convs run at a small
fraction of dense-conv efficiency, so fewer FLOPs do not always mean faster.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import UsageError, get_float, get_int

from ._wrap import require_module, set_submodule
from .finetune import prepare, run_finetune
from .measure import conv_flops
from .optimizing import Context, Outcome
from .surgery import DepthwiseSeparable, depthwise_from


def candidates(module: nn.Module, min_channels: int = 8) -> dict[str, nn.Conv2d]:
    return {
        n: m
        for n, m in module.named_modules()
        if type(m) is nn.Conv2d
        and m.groups == 1
        and max(m.kernel_size) > 1
        and m.in_channels >= min_channels
        and m.out_channels >= min_channels
    }


def svd_init(conv: nn.Conv2d, pair: DepthwiseSeparable) -> None:
    with torch.no_grad():
        w = conv.weight.detach().float()  # out × in × k × k
        out_ch, in_ch = w.shape[:2]
        mats = w.permute(1, 0, 2, 3).reshape(in_ch, out_ch, -1)  # in × out × k²
        u, s, vh = torch.linalg.svd(mats, full_matrices=False)
        root = s[:, :1].sqrt()  # in × 1
        dw = vh[:, 0, :] * root  # in × k²
        pw = u[:, :, 0] * root  # in × out
        pair.dw.weight.copy_(dw.reshape(in_ch, 1, *conv.kernel_size).to(pair.dw.weight))
        pair.pw.weight.copy_(pw.t().reshape(out_ch, in_ch, 1, 1).to(pair.pw.weight))
        if conv.bias is not None:
            pair.pw.bias.copy_(conv.bias.detach())


def _capture(
    model: Any, layers: dict[str, nn.Conv2d], inputs: list[torch.Tensor]
) -> dict[str, list[torch.Tensor]]:
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in layers}
    handles = [
        m.register_forward_hook(lambda mod, a, o, n=n: seen[n].append(a[0].detach()))
        for n, m in layers.items()
    ]
    try:
        with torch.no_grad():
            for x in inputs:
                model.forward(x.to(model.device, model.dtype))
    finally:
        for h in handles:
            h.remove()
    return seen


def fit_layer(
    conv: nn.Conv2d, pair: DepthwiseSeparable, acts: list[torch.Tensor], steps: int, lr: float
) -> tuple[float, float]:
    """Adam on the pair's output error against ``conv``; returns (relative error before, after)."""
    with torch.no_grad():
        targets = [conv(a) for a in acts]
        scale = sum(float(t.pow(2).mean()) for t in targets) / len(targets) + 1e-12

    def error() -> float:
        with torch.no_grad():
            return sum(float((pair(a) - t).pow(2).mean()) for a, t in zip(acts, targets)) / len(acts) / scale

    before = error()
    if steps:
        params = list(pair.parameters())
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr)
        for step in range(steps):
            a, t = acts[step % len(acts)], targets[step % len(acts)]
            loss = (pair(a) - t).pow(2).mean() / scale
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for p in params:
            p.requires_grad_(False)
    return before, error()


def apply(model: Any, ctx: Context) -> Outcome:
    module = require_module(model)
    steps = get_int(ctx.params, "distill_steps", 25, lo=0)
    lr = get_float(ctx.params, "lr", 1e-3, lo=0.0)
    finetune = get_int(ctx.params, "finetune_steps", 0, lo=0)
    layers = candidates(module)
    if not layers:
        raise UsageError(
            f"--method depthwise-separable: '{model.name}' has no k×k Conv2d with 8+ channels in and out to "
            "replace (transposed convs and RGB-facing layers are kept), so there is nothing to do"
        )
    x = ctx.bench_input
    flops_before = conv_flops(module, x, model.forward)
    inputs = ctx.calibration()
    pairs = prepare(model, ctx, finetune)
    acts = _capture(model, layers, inputs)
    ops, errors = [], {}
    for name, conv in layers.items():
        pair = depthwise_from(conv)
        svd_init(conv, pair)
        before, after = fit_layer(conv, pair, acts[name], steps, lr)
        errors[name] = {"rank1_rel_err": round(before, 5), "distilled_rel_err": round(after, 5)}
        set_submodule(module, name, pair.eval())
        ops.append({"op": "depthwise", "name": name})
    details: dict[str, Any] = {"replaced": len(ops), "layer_errors": errors, "distill_steps": steps}
    if finetune:
        lr_ft = get_float(ctx.params, "finetune_lr", 1e-4, lo=0.0)
        details["finetune"] = run_finetune(model, pairs, ctx, finetune, lr_ft)
    flops_after = conv_flops(module, x, model.forward)
    details.update(
        {
            "flops_before": flops_before,
            "flops_after": flops_after,
            "flops_ratio": flops_after / flops_before if flops_before else None,
        }
    )
    return Outcome(forward=model.forward, details=details, recipe={"surgery": ops}, transform=True)
