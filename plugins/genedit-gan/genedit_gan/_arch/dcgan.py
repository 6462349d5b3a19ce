"""DCGAN (Radford et al. 2015) at any power-of-two size.

The generator is a ``Sequential`` named ``main`` with the layer order of pytorch/examples, so for
64×64 its keys are the published ones (``main.0`` ConvTranspose nz→8·ngf, ``main.1`` BN, ...,
``main.12`` ConvTranspose ngf→nc); other sizes add or drop one (ConvT, BN, ReLU) stage per octave.
"""

from __future__ import annotations

import torch
from torch import nn

from .common import log2_int


def _stage_mults(size: int) -> list[int]:
    """Channel multipliers of the hidden stages: 8, 4, 2, 1 at 64×64; 4, 2, 1 at 32×32."""
    n_up = log2_int(size, "dcgan image size") - 2
    return [2 ** (n_up - 1 - i) for i in range(n_up)]


class DCGANGenerator(nn.Module):
    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3, size: int = 64):
        super().__init__()
        self.nz, self.ngf, self.nc, self.size = nz, ngf, nc, size
        mults = _stage_mults(size)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(nz, ngf * mults[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * mults[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(mults, mults[1:]):
            layers += [
                nn.ConvTranspose2d(ngf * a, ngf * b, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ngf * b),
                nn.ReLU(True),
            ]
        layers += [nn.ConvTranspose2d(ngf * mults[-1], nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: N×nz (or N×nz×1×1) → images in [-1, 1]."""
        if z.ndim == 2:
            z = z[:, :, None, None]
        return self.main(z)


class DCGANDiscriminator(nn.Module):
    """Strided convs with LeakyReLU 0.2 and BN (none on the first layer); returns logits N."""

    def __init__(self, ndf: int = 64, nc: int = 3, size: int = 64):
        super().__init__()
        mults = list(reversed(_stage_mults(size)))
        layers: list[nn.Module] = [
            nn.Conv2d(nc, ndf * mults[0], 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
        ]
        for a, b in zip(mults, mults[1:]):
            layers += [
                nn.Conv2d(ndf * a, ndf * b, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * b),
                nn.LeakyReLU(0.2, True),
            ]
        layers += [nn.Conv2d(ndf * mults[-1], 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).flatten()


def dcgan_init(module: nn.Module) -> None:
    """Conv weights N(0, 0.02); BN weight N(1, 0.02), bias 0 (the paper's initialisation)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def infer_generator_config(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """nz, ngf, nc and size from a ``main.*`` state dict (ConvTranspose weights are in×out×k×k)."""
    convs = sorted(
        (int(k.split(".")[1]), v)
        for k, v in state.items()
        if k.startswith("main.") and k.endswith(".weight") and v.ndim == 4
    )
    if not convs:
        raise ValueError("no ConvTranspose2d weights under 'main.'")
    first, last = convs[0][1], convs[-1][1]
    return {
        "nz": int(first.shape[0]),
        "ngf": int(last.shape[0]),
        "nc": int(last.shape[1]),
        "size": 4 * 2 ** (len(convs) - 1),
    }
