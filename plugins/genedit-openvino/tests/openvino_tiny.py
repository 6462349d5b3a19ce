"""A tiny plugin for the OpenVINO tests: two x2 upscalers, one that converts and one that cannot.

``tinyov`` is a small residual conv net with the layout code real plugins put in ``forward`` (a
mean shift and a clamp), so the conversion covers more than the bare module. ``tinyfixed`` scales
its output by the input width read as a Python number: a trace keeps the example's width as a
constant, so on any other width OpenVINO's answer differs from torch's, which the backend's check
must catch and run it in torch instead.
"""

from __future__ import annotations

from pathlib import Path

from genedit_core.sdk import ModelCard, hookimpl

CARDS = tuple(
    ModelCard(
        name=name,
        tasks=("upscale",),
        family="tiny",
        summary=f"{name}: a tiny x2 upscaler for the OpenVINO tests",
        scales=(2,),
        needs_weights=True,
        # edit below is the tiled forward clamped to 0-1; tinyplain, the same network, does not say so
        tiled_forward={"upscale": (0.0, 1.0)} if name == "tinyov" else {},
        plugin="tinyov",
    )
    for name in ("tinyov", "tinyfixed", "tinyplain")
)


def build_net(features: int = 8):
    import torch
    from torch import nn

    class TinyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = nn.Conv2d(3, features, 3, padding=1)
            self.body = nn.Sequential(
                nn.Conv2d(features, features, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(features, features, 3, padding=1),
            )
            self.tail = nn.Sequential(nn.Conv2d(features, 3 * 4, 3, padding=1), nn.PixelShuffle(2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            f = self.head(x)
            return self.tail(f + self.body(f))

    return TinyNet()


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
        fixed = request.card.name == "tinyfixed"

        def forward(x: torch.Tensor) -> torch.Tensor:
            y = net(x - mean) + torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest")
            if fixed:
                y = y * (float(x.shape[-1]) / 64.0)
            return y.clamp(0, 1)

        return LoadedModel(
            card=request.card,
            module=net,
            forward=forward,
            device=request.device,
            dtype=request.dtype,
            scale=2,
            receptive_field=4,
        )

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image).clamp(0, 1)
