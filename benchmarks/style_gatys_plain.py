"""Gatys style transfer as a plain script: torch, safetensors and PIL only, no genedit.

The yardstick of ``benchmarks/style_report.py``: it times ``genedit run stylize -m gatys`` against
this file doing the same work, so genedit's overhead is measured rather than guessed. "The same"
means: the same feature network (the bundled VGG16-HED file, its 13 convs read from the
``block{B}_conv{C}`` tensors, fp16 on disk and run in fp32, Caffe BGR input, 2×2 max pooling with
ceil mode), the same layers (content ``conv4_2``, style ``conv1_1`` … ``conv5_1``, after the ReLU),
the same losses (each divided by the size of its target, style averaged over layers, mean absolute
TV), the same weights (1, 10, 0.001) and the same L-BFGS (lr 1, history 50, one evaluation per
step, tolerances off), started from the content image. The inputs must already be at the working
size: nothing is resized here.

    python benchmarks/style_gatys_plain.py photo.png style.png -o out.png --steps 300 --threads 2

Prints one JSON line: seconds (from reading the images to writing the result), the losses at the
first and last step, and the steps run.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch.nn import functional as F

WEIGHTS = "plugins/genedit-style/genedit_style/weights/vgg16-hed.safetensors"
MEAN_BGR = torch.tensor([104.00699, 116.66877, 122.67892]).view(1, 3, 1, 1)
BLOCKS = (2, 2, 3, 3, 3)
CONTENT = ["conv4_2"]
STYLE = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]


def vgg(x: torch.Tensor, w: dict[str, torch.Tensor], layers: list[str]) -> dict[str, torch.Tensor]:
    """VGG16 activations (after the ReLU) of RGB 0-1 ``x``, up to the deepest layer asked for."""
    h = x.flip(1) * 255 - MEAN_BGR
    out: dict[str, torch.Tensor] = {}
    for b, count in enumerate(BLOCKS, start=1):
        for c in range(1, count + 1):
            name = f"conv{b}_{c}"
            h = F.relu(F.conv2d(h, w[f"block{b}_conv{c}.weight"], w[f"block{b}_conv{c}.bias"], padding=1))
            if name in layers:
                out[name] = h
                if len(out) == len(layers):
                    return out
        h = F.max_pool2d(h, 2, 2, ceil_mode=True)
    return out


def gram(f: torch.Tensor) -> torch.Tensor:
    n, c, hh, ww = f.shape
    flat = f.reshape(n, c, hh * ww)
    return flat @ flat.transpose(1, 2) / (c * hh * ww)


def read(path: str) -> torch.Tensor:
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].contiguous()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("content")
    p.add_argument("style")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--weights", default=WEIGHTS)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    w = {k: v.float() for k, v in load_file(args.weights).items()}

    t0 = time.perf_counter()
    content, style = read(args.content), read(args.style)
    with torch.no_grad():
        ct = vgg(content, w, CONTENT)
        gt = {n: gram(f) for n, f in vgg(style, w, STYLE).items()}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=args.steps, max_eval=args.steps, history_size=50,
                            tolerance_grad=-1.0, tolerance_change=-1.0)  # fmt: skip
    history: list[dict[str, float]] = []

    def closure() -> torch.Tensor:
        opt.zero_grad()
        f = vgg(x, w, CONTENT + STYLE)
        lc = sum(((f[n] - ct[n]) ** 2).sum() / (ct[n] ** 2).sum() for n in CONTENT)
        ls = sum(((gram(f[n]) - gt[n]) ** 2).sum() / (gt[n] ** 2).sum() for n in STYLE) / len(STYLE)
        tv = (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
        loss = lc + 10 * ls + 1e-3 * tv
        loss.backward()
        history.append({"content": float(lc), "style": float(ls), "tv": float(tv)})
        return loss

    opt.step(closure)
    out = (x.detach().clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(out).save(args.output)
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "steps": len(history), "first": history[0], "last": history[-1]}))


if __name__ == "__main__":
    main()
