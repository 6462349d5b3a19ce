"""A tiny plugin for the torch-compile tests: two x2 upscalers, one that compiles and one that cannot.

``tinyic`` is a small residual conv net with the layout code real plugins put in ``forward`` (a
mean shift, a nearest-neighbour skip and a clamp), so the compiled program covers more than the bare
module. ``tinyshape`` scales its output by the input width read as a Python number: ``torch.export``
cannot keep the width symbolic through ``float()``, so it refuses the model, and the backend must run
it in torch instead.
"""

from __future__ import annotations

from pathlib import Path

from genedit_core.sdk import ModelCard, hookimpl

CARDS = tuple(
    ModelCard(
        name=name,
        tasks=("upscale",),
        family="tiny",
        summary=f"{name}: a tiny x2 upscaler for the torch-compile tests",
        scales=(2,),
        needs_weights=True,
        plugin="tinyic",
    )
    for name in ("tinyic", "tinyshape")
)


def build_net(features: int = 8):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, features, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(features, 3 * 4, 3, padding=1),
        nn.PixelShuffle(2),
    )


def write_weights(path: Path, seed: int = 0) -> str:
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    save_file({k: v.contiguous() for k, v in build_net().state_dict().items()}, str(path))
    return str(path)


class TinyPlugin:
    @hookimpl
    def register_models(self, register):
        for card in CARDS:
            register(card)

    @hookimpl
    def load_model(self, request):
        import torch

        from genedit_core.sdk import LoadedModel, load_strict

        net = build_net()
        load_strict(net, request.state_dict, request.weights.origin)
        net = net.to(request.device, request.dtype).eval()
        mean = torch.tensor([0.45, 0.44, 0.40], dtype=request.dtype).view(1, 3, 1, 1)
        by_width = request.card.name == "tinyshape"

        def forward(x: torch.Tensor) -> torch.Tensor:
            y = net(x - mean) + torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            if by_width:
                y = y * (float(x.shape[-1]) / 64.0)
            return y.clamp(0, 1)

        return LoadedModel(
            card=request.card,
            module=net,
            forward=forward,
            device=request.device,
            dtype=request.dtype,
            scale=2,
            receptive_field=2,
        )

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image)
