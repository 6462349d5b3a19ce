"""CycleGAN's networks (Zhu et al. 2017): the ResNet generator and the 70×70 PatchGAN.

Written from the architecture as published in junyanz/pytorch-CycleGAN-and-pix2pix (facts, not
code): every layer sits in one ``nn.Sequential`` named ``model``, so the state-dict keys are that
repository's (``model.1.weight``, ``model.10.conv_block.1.weight``, ...) and its checkpoints load
without renaming. Instance norm has no affine parameters and keeps no running statistics, which
is why the convolutions before it carry a bias.

Generator (``n_blocks`` 9 for 256² training, 6 for 128²), by index in ``model``::

    0 ReflectionPad(3)  1 conv7 in→ngf  2 IN  3 ReLU
    4 conv3/2 ngf→2ngf  5 IN  6 ReLU     7 conv3/2 2ngf→4ngf  8 IN  9 ReLU
    10 … 9+B  ResnetBlock(4ngf): conv_block = pad1, conv3, IN, ReLU, [Dropout], pad1, conv3, IN
    10+B convT3/2 4ngf→2ngf  11+B IN  12+B ReLU   13+B convT3/2 2ngf→ngf  14+B IN  15+B ReLU
    16+B ReflectionPad(3)  17+B conv7 ngf→out  18+B Tanh

Discriminator (``n_layers`` 3: 70×70 receptive field), 4×4 kernels, LeakyReLU 0.2::

    0 conv/2 in→ndf  1 LReLU   2 conv/2 →2ndf  3 IN  4 LReLU   5 conv/2 →4ndf  6 IN  7 LReLU
    8 conv/1 →8ndf  9 IN  10 LReLU   11 conv/1 →1   (one logit per 70×70 patch; LSGAN reads it raw)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ResnetBlock(nn.Module):
    """x + two reflection-padded 3×3 convs (instance norm; ReLU between them)."""

    def __init__(self, dim: int, dropout: bool = False, affine: bool = False):
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            nn.InstanceNorm2d(dim, affine=affine),
            nn.ReLU(True),
        ]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), nn.InstanceNorm2d(dim, affine=affine)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Images in [-1, 1] to images in [-1, 1], same size (H and W multiples of 4).

    ``affine`` gives the instance norms a learnt scale and shift (``InstanceNorm2d(affine=True)``;
    junyanz's default has none, some ports, vintagify's among them, use it)."""

    def __init__(
        self,
        in_nc: int = 3,
        out_nc: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        dropout: bool = False,
        affine: bool = False,
    ):
        super().__init__()
        self.in_nc, self.out_nc, self.ngf, self.n_blocks, self.dropout = in_nc, out_nc, ngf, n_blocks, dropout
        self.affine = affine

        def norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=affine)

        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_nc, ngf, 7), norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [
                nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                norm(ngf * mult * 2),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(ngf * 4, dropout, affine) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [
                nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1),
                norm(ngf * mult // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "in_nc": self.in_nc,
            "out_nc": self.out_nc,
            "ngf": self.ngf,
            "n_blocks": self.n_blocks,
            "dropout": self.dropout,
            "affine": self.affine,
        }


class GeneratorPair(nn.Module):
    """Both directions of a CycleGAN: ``a2b`` (junyanz's G_A) and ``b2a`` (G_B).

    One module so that the trainer exports both as one ``model.safetensors`` (``a2b.model.*`` and
    ``b2a.model.*``) and, under DDP, all-reduces them together: every step uses both.
    """

    def __init__(self, a2b: ResnetGenerator, b2a: ResnetGenerator):
        super().__init__()
        self.a2b, self.b2a = a2b, b2a

    def forward(self, x: torch.Tensor, direction: str = "a2b") -> torch.Tensor:
        return self.a2b(x) if direction == "a2b" else self.b2a(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: a map of real/fake scores, one per receptive field (70×70 with ``n_layers=3``)."""

    def __init__(self, in_nc: int = 3, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [
                nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                nn.InstanceNorm2d(ndf * mult),
                nn.LeakyReLU(0.2, True),
            ]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DiscriminatorPair(nn.Module):
    """``a`` tells real A images from fakes of A (junyanz's D_B); ``b`` does the same for B (D_A)."""

    def __init__(self, a: NLayerDiscriminator, b: NLayerDiscriminator):
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor, domain: str) -> torch.Tensor:
        return self.a(x) if domain == "a" else self.b(x)


def patch_receptive_field(n_layers: int) -> int:
    """Input pixels one PatchGAN output sees: 70 for n_layers=3 (kernel 4, strides 2,…,2,1,1)."""
    strides = [2] * n_layers + [1, 1]
    rf = 1
    for s in reversed(strides):
        rf = (rf - 1) * s + 4
    return rf


def init_normal(net: nn.Module, gain: float = 0.02) -> None:
    """junyanz's 'normal' init: conv weights N(0, gain), biases 0 (instance norm has no weights)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
