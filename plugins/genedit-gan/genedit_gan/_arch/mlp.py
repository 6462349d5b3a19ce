"""The original GAN (Goodfellow et al. 2014): fully connected G and D on flattened images.

G: ReLU hidden layers and a tanh output (the paper used a sigmoid on [0, 1] data; genedit's
training data is in [-1, 1]). D: LeakyReLU 0.2 hidden layers with dropout, one logit out; the
paper's maxout units are replaced by LeakyReLU, which trains as well and stays simple.
"""

from __future__ import annotations

import torch
from torch import nn


class MLPGenerator(nn.Module):
    def __init__(
        self, nz: int = 100, hidden: tuple[int, ...] = (256, 512, 1024), nc: int = 1, size: int = 28
    ):
        super().__init__()
        self.nz, self.nc, self.size = nz, nc, size
        layers: list[nn.Module] = []
        width = nz
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(True)]
            width = h
        layers += [nn.Linear(width, nc * size * size), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.flatten(1)).view(-1, self.nc, self.size, self.size)


class MLPDiscriminator(nn.Module):
    def __init__(
        self, hidden: tuple[int, ...] = (1024, 512, 256), nc: int = 1, size: int = 28, dropout: float = 0.3
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = nc * size * size
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(0.2, True), nn.Dropout(dropout)]
            width = h
        layers += [nn.Linear(width, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).flatten()


def infer_generator_config(state: dict[str, torch.Tensor]) -> dict:
    """nz and hidden widths from ``net.{i}.weight``; nc and size need ``config.json`` (nc·size² is known)."""
    ws = sorted(
        (int(k.split(".")[1]), v) for k, v in state.items() if k.startswith("net.") and k.endswith(".weight")
    )
    return {
        "nz": int(ws[0][1].shape[1]),
        "hidden": [int(w.shape[0]) for _, w in ws[:-1]],
        "out": int(ws[-1][1].shape[0]),
    }
