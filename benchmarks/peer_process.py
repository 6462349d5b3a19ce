"""The peer's whole process: what a user of the bare network runs, for issue 19's whole-process ratio.

Issue 19 compares a whole ``genedit run upscale`` process with "the peer's fp32 eager", and its own
first measurement compares whole processes ("whole process, as a user runs it"). This script is
that peer process, written the way super-image's, BasicSR's or spandrel's users write one: import
torch, build the network, load a safetensors file, read a PNG, run the whole image in fp32 eager
NCHW, clamp, write a PNG. It imports nothing of genedit, so what it pays (torch's import, the
module's construction) is what a peer user pays. Two networks, each written here from its
published layout:

* ``edsr``: EDSR (BasicSR's names and semantics: ``conv_first``, ``body.N.conv1/conv2``,
  ``conv_after_body``, ``upsample.0``, ``conv_last``, DIV2K mean shift, 255 range);
* ``rrdb``: RRDBNet x4 (Real-ESRGAN's names: ``conv_first``, ``body.N.rdbK.convJ``, ``conv_body``,
  ``conv_up1/2``, ``conv_hr``, ``conv_last``; dense blocks scaled by 0.2, LeakyReLU 0.2, nearest
  upsampling), the network spandrel's RRDBNet runs.

The PNG is written at zlib level 1, as genedit writes it, so the two processes differ in the
runtime, not in the encoder. It prints ``computed in S s`` for its forward alone.

    python benchmarks/peer_process.py WEIGHTS.safetensors INPUT.png OUTPUT.png [--arch rrdb] [--scale 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


class ResBlock(nn.Module):
    def __init__(self, feat: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feat, feat, 3, padding=1)
        self.conv2 = nn.Conv2d(feat, feat, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(torch.relu(self.conv1(x)))


class PeerEDSR(nn.Module):
    """EDSR-baseline as BasicSR's users build it (res_scale 1, one sub-pixel stage per factor 2)."""

    def __init__(self, scale: int, feat: int = 64, blocks: int = 16) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(DIV2K_MEAN).view(1, 3, 1, 1))
        self.conv_first = nn.Conv2d(3, feat, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(feat) for _ in range(blocks)])
        self.conv_after_body = nn.Conv2d(feat, feat, 3, padding=1)
        stages: list[nn.Module] = []
        for _ in range(int(np.log2(scale))):
            stages += [nn.Conv2d(feat, 4 * feat, 3, padding=1), nn.PixelShuffle(2)]
        self.upsample = nn.Sequential(*stages)
        self.conv_last = nn.Conv2d(feat, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * 255.0
        head = self.conv_first(x)
        res = self.conv_after_body(self.body(head)) + head
        return self.conv_last(self.upsample(res)) / 255.0 + self.mean


class DenseBlock(nn.Module):
    """Five convs, each seeing the block's input and every earlier output (ESRGAN's RDB)."""

    def __init__(self, feat: int = 64, grow: int = 32) -> None:
        super().__init__()
        for j in range(5):
            out = feat if j == 4 else grow
            setattr(self, f"conv{j + 1}", nn.Conv2d(feat + j * grow, out, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen = [x]
        for j in range(1, 5):
            seen.append(F.leaky_relu(getattr(self, f"conv{j}")(torch.cat(seen, 1)), 0.2))
        return x + 0.2 * self.conv5(torch.cat(seen, 1))


class RRDB(nn.Module):
    def __init__(self, feat: int = 64) -> None:
        super().__init__()
        self.rdb1, self.rdb2, self.rdb3 = DenseBlock(feat), DenseBlock(feat), DenseBlock(feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class PeerRRDBNet(nn.Module):
    """RRDBNet x4 as Real-ESRGAN's users build it (input and output in 0-1)."""

    def __init__(self, blocks: int = 23, feat: int = 64) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(3, feat, 3, padding=1)
        self.body = nn.Sequential(*[RRDB(feat) for _ in range(blocks)])
        self.conv_body = nn.Conv2d(feat, feat, 3, padding=1)
        self.conv_up1 = nn.Conv2d(feat, feat, 3, padding=1)
        self.conv_up2 = nn.Conv2d(feat, feat, 3, padding=1)
        self.conv_hr = nn.Conv2d(feat, feat, 3, padding=1)
        self.conv_last = nn.Conv2d(feat, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = F.leaky_relu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


def build(arch: str, scale: int) -> nn.Module:
    if arch == "rrdb":
        if scale != 4:
            raise SystemExit("the RRDBNet peer is the x4 network")
        return PeerRRDBNet()
    return PeerEDSR(scale)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--arch", choices=("edsr", "rrdb"), default="edsr")
    parser.add_argument("--scale", type=int, default=2)
    args = parser.parse_args()
    net = build(args.arch, args.scale)
    state = {k: v.float() for k, v in load_file(args.weights).items()}
    missing = set(net.state_dict()) - set(state) - {"mean"}  # the mean buffer is not in a file
    extra = set(state) - set(net.state_dict())
    if missing or extra:
        raise SystemExit(f"{args.weights}: missing {sorted(missing)[:4]}, unexpected {sorted(extra)[:4]}")
    net.load_state_dict(state, strict=False)
    net.eval()
    pixels = np.asarray(Image.open(args.input).convert("RGB"), dtype=np.float32) / 255.0
    x = torch.from_numpy(pixels.transpose(2, 0, 1).copy())[None]
    started = time.perf_counter()
    with torch.inference_mode():
        y = net(x)
    print(f"computed in {time.perf_counter() - started:.3f} s (peer {args.arch} fp32 eager)")
    out = (y[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255.0).round().astype(np.uint8)
    Image.fromarray(out).save(args.output, compress_level=1)


if __name__ == "__main__":
    main()
