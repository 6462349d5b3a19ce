"""Turn a load request into a :class:`LoadedModel`: recognise the layout, infer sizes, build, load.

Layouts (facts in docs/models): DCGAN ``main.*`` (pytorch/examples and our trainer) or ``model.*``
(HugGAN); StyleGAN2 rosinality ``g_ema`` (+ ``latent_avg``); BigGAN pytorch-pretrained-BigGAN;
MLP GAN ``net.*`` from our trainer. Hyperparameters come from ``config.json`` (``arch``) when the
trainer wrote one, otherwise from tensor shapes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import LoadedModel, WeightsError, load_strict


def _config(request) -> dict[str, Any]:
    return dict(request.weights.config) if request.weights is not None else {}


def _origin(request) -> str:
    return request.weights.origin if request.weights is not None else request.card.name


def convert_dcgan(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """HugGAN names the Sequential ``model``; pytorch/examples and genedit name it ``main``."""
    if any(k.startswith("model.") for k in state) and not any(k.startswith("main.") for k in state):
        return {"main." + k[len("model.") :]: v for k, v in state.items()}
    return dict(state)


def build_network(
    name: str, state: dict[str, torch.Tensor], config: dict[str, Any], origin: str
) -> nn.Module:
    """The generator module for ``name`` with ``state`` loaded (CPU, eval mode)."""
    arch = dict(config.get("arch") or {})
    try:
        if name == "dcgan":
            from ._arch.dcgan import DCGANGenerator, infer_generator_config

            state = convert_dcgan(state)
            hp = {**infer_generator_config(state), **arch}
            module: nn.Module = DCGANGenerator(**hp)
            load_strict(module, state, origin)
        elif name == "gan":
            from ._arch.mlp import MLPGenerator, infer_generator_config

            shapes = infer_generator_config(state)
            out = shapes.pop("out")
            nc = int(arch.get("nc", 1 if round((out) ** 0.5) ** 2 == out else 3))
            size = int(arch.get("size", round((out // nc) ** 0.5)))
            module = MLPGenerator(nz=shapes["nz"], hidden=tuple(shapes["hidden"]), nc=nc, size=size)
            load_strict(module, state, origin)
        elif name == "stylegan2":
            from ._arch.stylegan2 import StyleGAN2Generator, infer_generator_config

            hp = {**infer_generator_config(state), **{k: v for k, v in arch.items() if k == "lr_mlp"}}
            module = StyleGAN2Generator(**hp)
            load_strict(module, state, origin, optional=("latent_avg",))
            if "latent_avg" not in state:
                module.compute_latent_avg()
        elif name == "biggan":
            from ._arch.biggan import BigGAN, infer_config
            from ._arch.common import no_init

            hp = arch or infer_config(state, config)
            with no_init():
                module = BigGAN(**hp)
            load_strict(module, state, origin)
        else:
            raise WeightsError(f"{origin}: no GAN architecture named '{name}'")
    except KeyError as exc:
        raise WeightsError(f"{origin}: not a {name} checkpoint (no key {exc})") from None
    except ValueError as exc:
        raise WeightsError(f"{origin}: {exc}") from None
    return module.eval()


def build(request) -> LoadedModel:
    card = request.card
    if request.state_dict is None:
        raise WeightsError(f"{card.name}: needs weights; pass --weights RUN_DIR, a file, or hf://owner/repo")
    config = _config(request)
    module = build_network(card.name, request.state_dict, config, _origin(request))
    device, dtype = request.device, request.dtype  # chosen by the core from --dtype and the card
    module = module.to(device=device, dtype=dtype).requires_grad_(False)
    hp = _hyperparameters(card.name, module)
    hp["class_names"] = list(config.get("class_names", []))
    if config.get("output_size"):
        hp["output_size"] = int(config["output_size"])
    if "default_truncation" in config:
        hp["default_truncation"] = float(config["default_truncation"])
    from .sampling import latent_forward

    loaded = LoadedModel(
        card=card,
        module=module,
        forward=lambda z: latent_forward(loaded, z),
        device=device,
        dtype=dtype,
        in_channels=0,  # forward takes a latent, not an image
        out_channels=int(hp.get("nc", hp.get("img_channels", 3))),
        tileable=False,
        receptive_field=0,
        hyperparameters=hp,
        latent_shape=(int(hp.get("nz", hp.get("style_dim", hp.get("z_dim", 0)))),),
    )
    if not hasattr(LoadedModel, "generate"):
        from .sampling import bind_generate

        bind_generate(loaded)
    return loaded


def _hyperparameters(name: str, module: nn.Module) -> dict[str, Any]:
    if hasattr(module, "hyperparameters"):
        return dict(module.hyperparameters())
    return {
        "nz": module.nz,
        "nc": module.nc,
        "size": module.size,
        **({"ngf": module.ngf} if name == "dcgan" else {}),
    }
