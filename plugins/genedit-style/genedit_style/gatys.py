"""Gatys et al. (2016) style transfer: optimise the image itself against a fixed VGG.

Imports torch, so only hook bodies import this module.

The result starts as the content image (or noise) and is changed, pixel by pixel, to lower

    content_weight · Σ_l ‖F_l(x) − F_l(c)‖² / ‖F_l(c)‖²                 (content layers)
  + style_weight   · mean_l ‖G_l(x) − G_l(s)‖² / ‖G_l(s)‖²              (style layers)
  + tv_weight      · mean |∇x|                                          (total variation)

where F_l are VGG activations after the ReLU and G_l their Gram matrices. Each term is divided by
the size of its target, so the default weights mean the same for any feature network (Caffe-range
VGG16-HED activations are ~100× those of an ImageNet-normalised VGG19). L-BFGS without a line
search (one network evaluation per step, lr 1) is the classic optimiser; Adam is there for
memory-tight runs. ``octaves > 1`` runs coarse to fine: half the size per octave, each result
upscaled as the next start, so most steps run on small images.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch.nn import functional as F

from genedit_core.sdk import UsageError

from .features import VGGFeatures, gram, resize_longest
from .options import GatysSettings


class StopEarly(Exception):
    """Raised by a ``progress`` callback to end the optimisation at once (a deadline, a cancelled
    job): :func:`stylize` then returns the image as it is, so the steps already paid for are kept."""


@dataclass
class GatysResult:
    """The image and what happened: losses before and after, per step, and the time taken."""

    image: torch.Tensor
    history: list[dict[str, float]]  # one row per network evaluation: content, style, tv, total
    start: dict[str, float]
    end: dict[str, float]
    seconds: float
    settings: dict[str, Any]


class GatysLoss:
    """The weighted loss of an image against fixed content and style targets."""

    def __init__(
        self, net: VGGFeatures, content: torch.Tensor, style: torch.Tensor, s: GatysSettings
    ) -> None:
        self.net, self.s = net, s
        try:
            net.check_layers(s.content_layers)
            net.check_layers(s.style_layers)
        except ValueError as exc:
            raise UsageError(f"--content-layers/--style-layers: {exc}") from None
        self.layers = list(dict.fromkeys([*s.content_layers, *s.style_layers]))
        with torch.no_grad():
            c = net(content, s.content_layers)
            g = net(style, s.style_layers)
        self.content_targets = {n: c[n] for n in s.content_layers}
        self.gram_targets = {n: gram(g[n]) for n in s.style_layers}

    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted content, style and TV losses of ``x`` (differentiable)."""
        feats = self.net(x, self.layers)
        content = sum(
            ((feats[n] - t) ** 2).sum() / (t**2).sum().clamp_min(1e-12)
            for n, t in self.content_targets.items()
        )
        style = sum(
            ((gram(feats[n]) - t) ** 2).sum() / (t**2).sum().clamp_min(1e-12)
            for n, t in self.gram_targets.items()
        ) / len(self.gram_targets)
        tv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
        return {"content": content, "style": style, "tv": tv}

    def total(self, terms: Mapping[str, torch.Tensor]) -> torch.Tensor:
        s = self.s
        return (
            s.content_weight * terms["content"] + s.style_weight * terms["style"] + s.tv_weight * terms["tv"]
        )


def working_size(height: int, width: int, size: int) -> int:
    """The result's longer side: ``size``, but never above the input's own (0: the input's)."""
    longest = max(height, width)
    return longest if size <= 0 else min(size, longest)


def stylize(
    net: VGGFeatures,
    content: torch.Tensor,
    style: torch.Tensor,
    s: GatysSettings,
    progress: Callable[[int, int, dict[str, float]], None] | None = None,
) -> GatysResult:
    """Optimise an image with ``content`` (1×3×H×W, 0-1) in the style of ``style``.

    The result's longer side is :func:`working_size`; ``progress(step, total, losses)`` is called
    after every network evaluation, and may raise :class:`StopEarly` to end the run there (the
    result is then the image so far, ``history`` says how far it got). Runs on the device and
    dtype of ``net``.
    """
    net.set_pool(s.pool)
    p = next(net.parameters())
    device, dtype = p.device, p.dtype
    content = content.to(device=device, dtype=dtype)
    style = style.to(device=device, dtype=dtype)
    longest = working_size(*content.shape[-2:], s.size)
    sizes = [max(8, round(longest / 2 ** (s.octaves - 1 - k))) for k in range(s.octaves)]
    started = time.perf_counter()
    history: list[dict[str, float]] = []
    x = None
    start_terms: dict[str, float] = {}
    total_steps = s.steps * len(sizes)
    for octave, side in enumerate(sizes):
        c = resize_longest(content, side)
        st = resize_longest(style, max(8, round(side * s.style_scale)))
        loss = GatysLoss(net, c, st, s)
        if x is None:
            if s.init == "noise":
                g = torch.Generator(device="cpu").manual_seed(s.seed)
                x = torch.rand(c.shape, generator=g).to(device=device, dtype=dtype)
            else:
                x = c.clone()
        else:
            x = F.interpolate(x, size=c.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
        first = len(history)
        fresh = octave == 0 and s.init == "content"  # x is the photo: its first evaluation is the start
        if octave == len(sizes) - 1 and not fresh:
            with torch.no_grad():
                start_terms = {k: float(v) for k, v in loss.terms(c).items()}
        x, stopped = _optimise(
            loss, x.detach().requires_grad_(True), s, history, progress, octave * s.steps, total_steps
        )
        if octave == len(sizes) - 1 and fresh:
            start_terms = _terms(history[first])
        if stopped:
            if octave < len(sizes) - 1:  # a coarse octave's image: bring it to the result's size
                c = resize_longest(content, longest)
                x = F.interpolate(x, size=c.shape[-2:], mode="bicubic", align_corners=False).clamp(0, 1)
                loss = GatysLoss(net, c, resize_longest(style, max(8, round(longest * s.style_scale))), s)
            break
    with torch.no_grad():
        if not start_terms:  # stopped before the last octave
            start_terms = {k: float(v) for k, v in loss.terms(resize_longest(content, longest)).items()}
        if s.optimizer == "lbfgs" and len(sizes) - 1 == octave and history:
            end_terms = _terms(history[-1])  # L-BFGS stops on the point it last evaluated
        else:
            end_terms = {k: float(v) for k, v in loss.terms(x).items()}
        out = x.detach().clamp(0, 1)
        if s.preserve_colour:
            out = keep_colour(out, resize_longest(content, longest))
    return GatysResult(out, history, start_terms, end_terms, time.perf_counter() - started, asdict(s))


def _terms(row: Mapping[str, float]) -> dict[str, float]:
    return {k: row[k] for k in ("content", "style", "tv")}


#: Bytes L-BFGS may keep in its history (pairs of image-sized vectors): 50 pairs up to 512², fewer
#: above, so a long 1024² run adds about 300 MB rather than 1.2 GB to the network's activations.
LBFGS_HISTORY_BYTES = 320 * 2**20


def lbfgs_history(numel: int, bytes_per_value: int = 4) -> int:
    """The L-BFGS history size for an image of ``numel`` values: 50, capped by
    :data:`LBFGS_HISTORY_BYTES`, never below 5 (fewer pairs make a poor curvature estimate)."""
    return max(5, min(50, LBFGS_HISTORY_BYTES // (2 * numel * bytes_per_value)))


def _optimise(
    loss: GatysLoss,
    x: torch.Tensor,
    s: GatysSettings,
    history: list[dict[str, float]],
    progress: Callable[[int, int, dict[str, float]], None] | None,
    done: int,
    total: int,
) -> tuple[torch.Tensor, bool]:
    """``x`` after ``s.steps`` evaluations, and whether ``progress`` stopped it early."""
    if s.optimizer == "adam":
        opt: torch.optim.Optimizer = torch.optim.Adam([x], lr=s.lr or 0.02)
    else:
        # one evaluation per step (no line search), exactly `steps` of them: tolerances off
        opt = torch.optim.LBFGS(
            [x], lr=s.lr or 1.0, max_iter=s.steps, max_eval=s.steps, history_size=lbfgs_history(x.numel()),
            tolerance_grad=-1.0, tolerance_change=-1.0,
        )  # fmt: skip
    evaluations = 0

    def closure() -> torch.Tensor:
        nonlocal evaluations
        opt.zero_grad(set_to_none=True)
        terms = loss.terms(x)
        value = loss.total(terms)
        value.backward()
        evaluations += 1
        row = {k: float(v.detach()) for k, v in terms.items()} | {"total": float(value.detach())}
        history.append(row)
        if progress is not None:
            progress(done + evaluations, total, row)
        return value

    with torch.enable_grad():  # genedit runs edit hooks under no_grad; this hook needs gradients
        try:
            if s.optimizer == "adam":
                for _ in range(s.steps):
                    opt.step(closure)
                    with torch.no_grad():
                        x.clamp_(0, 1)
            else:
                opt.step(closure)
        except StopEarly:
            return x.detach(), True
    return x.detach(), False


def keep_colour(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of ``result`` with the chroma of ``content`` (BT.601 YCbCr), as Gatys et al.'s
    colour-preserving variant does after the fact."""
    m = torch.tensor(
        [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]],
        dtype=result.dtype,
        device=result.device,
    )
    y = torch.einsum("ij,njhw->nihw", m, result)
    ycc = torch.einsum("ij,njhw->nihw", m, content)
    mixed = torch.cat([y[:, :1], ycc[:, 1:]], dim=1)
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(m), mixed).clamp(0, 1)
