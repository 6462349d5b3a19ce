"""Views of a :class:`LoadedModel` that torch's graph tools can work with.

``LoadedModel.forward`` is the plugin's 0–1 RGB wrapper: it may shift means or rescale around the
network. Exporters and graph passes need an ``nn.Module`` whose parameters are the network's, so
:class:`ForwardModule` registers the network as a sub-module and calls the wrapper. Mutating the
network in place (pruning, layer surgery) therefore shows through ``LoadedModel.forward`` as well.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import LoadedModel, UsageError


class ForwardModule(nn.Module):
    """``nn.Module`` around a LoadedModel's convention wrapper; pads to ``size_multiple`` if asked.

    Padding inside the graph (reflect, then crop by ``scale``) is what makes an exported model accept
    odd sizes when the network itself needs multiples (e.g. pixel-unshuffle front ends).
    """

    def __init__(self, model: LoadedModel, pad_to_multiple: bool = False):
        super().__init__()
        self.net = require_module(model)
        # Not a sub-module even when forward *is* the network: parameters must be named net.*.
        self.__dict__["_fn"] = model.forward
        image_input = not getattr(model, "takes_latent", False)
        self.multiple = int(model.size_multiple) if pad_to_multiple and image_input else 1
        self.scale = int(model.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.multiple <= 1:
            return self._fn(x)
        h, w = x.shape[-2], x.shape[-1]
        ph, pw = (-h) % self.multiple, (-w) % self.multiple
        y = self._fn(torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate"))
        return y[..., : h * self.scale, : w * self.scale]


def require_module(model: LoadedModel) -> nn.Module:
    if not isinstance(getattr(model, "module", None), nn.Module):
        raise UsageError(
            f"model '{model.name}': its plugin exposes no nn.Module (LoadedModel.module), so it cannot be "
            "optimized or exported"
        )
    return model.module


def example_input(model: LoadedModel, h: int, w: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A reproducible 0–1 input with image-like structure (smooth gradients plus texture).

    Models whose input is a latent (``model.takes_latent``) get standard-normal latents of
    ``model.latent_shape`` instead;
    ``h`` and ``w`` are then ignored.
    """
    g = torch.Generator().manual_seed(seed)
    if getattr(model, "takes_latent", False):
        return torch.randn(batch, *model.latent_shape, generator=g).to(model.device, model.dtype)
    yy = torch.linspace(0, 1, h).view(1, 1, h, 1)
    xx = torch.linspace(0, 1, w).view(1, 1, 1, w)
    base = 0.5 + 0.25 * torch.sin(6.0 * yy + 4.0 * xx + torch.arange(model.in_channels).view(1, -1, 1, 1))
    noise = torch.rand(batch, model.in_channels, h, w, generator=g) * 0.5
    x = (0.5 * base + noise).clamp(0, 1)
    return x.to(model.device, model.dtype)


def conv_layers(module: nn.Module) -> dict[str, nn.Module]:
    """Every 2-d conv and linear layer by qualified name (the layers our methods act on)."""
    return {
        n: m for n, m in module.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d))
    }


def set_submodule(root: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, new)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_nonzero(module: nn.Module) -> int:
    return sum(int(torch.count_nonzero(p).item()) for p in module.parameters())


def state_for_saving(module: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU copies, one tensor per key (safetensors refuses shared storage)."""
    return {k: v.detach().to("cpu").clone().contiguous() for k, v in module.state_dict().items()}


def describe(value: Any) -> str:
    return type(value).__name__


def dynamic_dims(model: LoadedModel, *, batch: bool) -> dict[str, dict[int, Any]] | None:
    """``torch.export`` dynamic shapes for the input ``x``: batch (optional) and, for images, H and W."""
    from torch.export import Dim

    dims: dict[int, Any] = {0: Dim("batch", min=1, max=1024)} if batch else {}
    if not getattr(model, "takes_latent", False):
        dims.update({2: Dim("height", min=4), 3: Dim("width", min=4)})
    return {"x": dims} if dims else None
