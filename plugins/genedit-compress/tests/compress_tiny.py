"""A tiny EDSR-like plugin registered inline, so compress tests never depend on another plugin.

``tiny-edsr`` has BasicSR-style keys (``conv_first``, ``body.N.conv1/2``, ``conv_after_body``,
``upsample.0``, ``conv_last``), residual adds and a pixel shuffle: every dependency structured
pruning must respect. Its ``forward`` shifts by a mean held in a closure, like real SR wrappers.
``tiny-dcgan`` is a generator-style net (ConvTranspose2d + BatchNorm) for the methods that must
skip what they cannot handle.
"""

from __future__ import annotations

import torch
from torch import nn

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.model import LoadedModel

MEAN = (0.4488, 0.4371, 0.4040)
# method options that keep an optimize call on a tiny model to a second or two (strings, as from the CLI)
FAST = {
    "bench_size": "24",
    "repeats": "1",
    "eval_crop": "24",
    "eval_count": "1",
    "calib_size": "16",
    "calib_count": "3",
}


class Block(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return x + self.conv2(self.relu(self.conv1(x)))


class TinyEDSR(nn.Module):
    def __init__(self, nf: int = 8, nb: int = 2, scale: int = 2):
        super().__init__()
        self.conv_first = nn.Conv2d(3, nf, 3, 1, 1)
        self.body = nn.Sequential(*[Block(nf) for _ in range(nb)])
        self.conv_after_body = nn.Conv2d(nf, nf, 3, 1, 1)
        self.upsample = nn.Sequential(nn.Conv2d(nf, nf * scale * scale, 3, 1, 1), nn.PixelShuffle(scale))
        self.conv_last = nn.Conv2d(nf, 3, 3, 1, 1)

    def forward(self, x):
        f = self.conv_first(x)
        r = self.conv_after_body(self.body(f)) + f
        return self.conv_last(self.upsample(r))


class TinyGen(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(3, 8, 3, 1, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(True),
            nn.ConvTranspose2d(8, 8, 4, 2, 1),
            nn.BatchNorm2d(8),
            nn.ReLU(True),
            nn.Conv2d(8, 3, 3, 1, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x)


TINY_EDSR = ModelCard(
    name="tiny-edsr",
    tasks=("upscale",),
    family="test",
    summary="Tiny EDSR-like net for tests.",
    scales=(2,),
    needs_weights=False,
    licence="Apache-2.0",
    bf16_safe=True,
    default_scale=2,
)
TINY_GEN = ModelCard(
    name="tiny-gen",
    tasks=("upscale",),
    family="test",
    summary="Tiny net with BN and ConvTranspose.",
    scales=(2,),
    needs_weights=False,
    licence="mit",
    default_scale=2,
)


def _infer(state: dict) -> dict:
    nf = state["conv_first.weight"].shape[0]
    nb = len({k.split(".")[1] for k in state if k.startswith("body.")})
    scale = int(round((state["upsample.0.weight"].shape[0] / nf) ** 0.5))
    return {"num_feat": nf, "num_block": nb, "scale": scale}


class TinyPlugin:
    @hookimpl
    def register_models(self, register):
        register(TINY_EDSR)
        register(TINY_GEN)

    @hookimpl
    def load_model(self, request):
        torch.manual_seed(0)
        if request.card.name == "tiny-gen":
            module = TinyGen().eval()
            if request.state_dict is not None:
                module.load_state_dict(request.state_dict)
            module.to(request.device, request.dtype)
            return LoadedModel(
                card=request.card,
                module=module,
                forward=module,
                device=request.device,
                dtype=request.dtype,
                scale=2,
                hyperparameters={},
            )
        hp = (
            _infer(request.state_dict)
            if request.state_dict is not None
            else {"num_feat": 8, "num_block": 2, "scale": 2}
        )
        cfg = request.weights.config if request.weights is not None else {}
        hp["res_scale"] = float(cfg.get("res_scale", 1.0))
        module = TinyEDSR(hp["num_feat"], hp["num_block"], hp["scale"]).eval()
        if request.state_dict is not None:
            module.load_state_dict(request.state_dict, strict=True)
        module.to(request.device, request.dtype)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)

        def forward(x):
            return module(x - mean.to(x)) + mean.to(x)

        return LoadedModel(
            card=request.card,
            module=module,
            forward=forward,
            device=request.device,
            dtype=request.dtype,
            scale=hp["scale"],
            hyperparameters=hp,
            receptive_field=12,
        )

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image)
