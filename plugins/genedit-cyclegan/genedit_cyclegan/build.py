"""Weights to a ready generator: detect the layout, read the hyperparameters from shapes, load.

Two layouts, both with junyanz/pytorch-CycleGAN-and-pix2pix's module names:

* ``junyanz``: one generator, ``model.N.*`` (``latest_net_G_A.pth`` holds A→B, ``..._G_B.pth``
  B→A). Files saved by PyTorch before 0.4 carry InstanceNorm ``running_mean``/``running_var``
  entries that the norm does not use; they are dropped, as the reference repository does. Ports
  that give the norms affine parameters (``model.2.weight``) or call the residual Sequential
  ``block`` instead of ``conv_block`` (vintagify's ``G_A2B_epoch33.pth``) load too.
* ``pair``: both directions, ``a2b.model.*`` and ``b2a.model.*``, which ``genedit train
  cyclegan`` exports.

Nothing is read from values, only from key names and shapes, so ``load_model`` also builds the
network from zero tensors (``genedit optimize`` and the conformance check do that).
"""

from __future__ import annotations

import re
from typing import Any

import torch

from genedit_core.sdk import LoadedModel, UsageError, WeightsError, load_strict

from ._arch.networks import GeneratorPair, ResnetGenerator, init_normal

DIRECTIONS = ("a2b", "b2a")
_BLOCK = re.compile(r"^model\.(\d+)\.conv_block\.(\d+)\.weight$")
_STALE = (".running_mean", ".running_var", ".num_batches_tracked")
_BLOCK_ALIAS = re.compile(r"^(model\.\d+\.)block\.")


def generator_config(state: dict[str, torch.Tensor], origin: str) -> dict[str, Any]:
    """ResnetGenerator arguments from one generator's ``model.*`` keys (shapes only)."""
    first = state.get("model.1.weight")
    if first is None or first.ndim != 4 or tuple(first.shape[2:]) != (7, 7):
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not a CycleGAN ResNet generator (need model.1.weight [ngf, 3, 7, 7], "
            f"model.N.conv_block.*), found {found}"
        )
    if "model.1.bias" not in state:
        raise WeightsError(
            f"{origin}: a generator with batch norm (its convs have no bias: --norm batch); only "
            "instance-norm generators (the ones CycleGAN publishes) are supported"
        )
    blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK.match(k))})
    if not blocks or blocks != list(range(10, 10 + len(blocks))):
        raise WeightsError(
            f"{origin}: resnet blocks must be model.10 … model.N consecutively, found {blocks or 'none'}"
        )
    n = len(blocks)
    last = state.get(f"model.{17 + n}.weight")
    if last is None:
        raise WeightsError(
            f"{origin}: {n} resnet blocks, so the output conv is model.{17 + n}.*; it is missing"
        )
    return {
        "in_nc": int(first.shape[1]),
        "out_nc": int(last.shape[0]),
        "ngf": int(first.shape[0]),
        "n_blocks": n,
        # with dropout the second conv is conv_block.6; with affine norms .6 is a norm (1-D)
        "dropout": getattr(state.get("model.10.conv_block.6.weight"), "ndim", 0) == 4,
        "affine": "model.2.weight" in state,
    }


def _generator(state: dict[str, torch.Tensor], origin: str) -> ResnetGenerator:
    # vintagify names the residual blocks' Sequential 'block' where junyanz says 'conv_block'
    state = {_BLOCK_ALIAS.sub(r"\1conv_block.", k): v for k, v in state.items() if not k.endswith(_STALE)}
    net = ResnetGenerator(**generator_config(state, origin))
    load_strict(net, state, origin)
    return net


def _sub(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def from_state(state: dict[str, torch.Tensor], origin: str) -> ResnetGenerator | GeneratorPair:
    """The network ``state`` holds: a :class:`GeneratorPair` or one :class:`ResnetGenerator`."""
    if any(k.startswith("a2b.") for k in state) or any(k.startswith("b2a.") for k in state):
        a2b, b2a = _sub(state, "a2b."), _sub(state, "b2a.")
        stray = sorted(k for k in state if not k.startswith(("a2b.", "b2a.")))
        if not a2b or not b2a or stray:
            what = f"unexpected {', '.join(stray[:3])}" if stray else "only one of a2b.*, b2a.*"
            raise WeightsError(f"{origin}: a generator pair needs a2b.model.* and b2a.model.*; {what}")
        return GeneratorPair(_generator(a2b, f"{origin} (a2b)"), _generator(b2a, f"{origin} (b2a)"))
    return _generator(state, origin)


def receptive_field(n_blocks: int) -> int:
    """Input pixels each side that reach one output pixel (87 for 9 blocks): conv7, two stride-2
    3×3 convs, 2·n_blocks 3×3 convs at 1/4 resolution, two stride-2 transposed convs, conv7.
    Instance norm makes every output depend on the whole image anyway, so the model is not tiled."""
    return 3 + 1 + 2 + 2 * n_blocks * 4 + 4 + 2 + 3


def directed(model: LoadedModel, direction: str) -> LoadedModel:
    """``model`` running ``direction``; a file with one generator runs only its own."""
    from dataclasses import replace

    if direction not in DIRECTIONS:
        raise UsageError(f"--direction {direction}: expected a2b or b2a")
    module = model.module
    if not isinstance(module, GeneratorPair):
        if direction == "a2b":
            return model
        origin = model.weights.origin if model.weights else "these weights"
        raise UsageError(
            f"{origin} holds one generator, which runs in its own direction only; "
            "for the other direction pass the other generator's file (junyanz: G_B for B→A)"
        )
    net = module.a2b if direction == "a2b" else module.b2a
    return replace(model, forward=_wrap(net))


def _wrap(net: torch.nn.Module):
    # genedit's 0–1 images to the [-1, 1] the generator was trained on, and back
    def forward(x: torch.Tensor) -> torch.Tensor:
        return (net(x * 2 - 1) + 1) / 2

    return forward


def build(request) -> LoadedModel:
    if request.state_dict is None:
        raise WeightsError(
            "cyclegan needs weights: --weights a genedit train run, a junyanz latest_net_G_A.pth, "
            "or a bundled variant (genedit info cyclegan)"
        )
    module = from_state(request.state_dict, request.weights.origin)
    module = module.eval().requires_grad_(False).to(device=request.device, dtype=request.dtype)
    first = module.a2b if isinstance(module, GeneratorPair) else module
    hp = first.hyperparameters()
    hp["directions"] = "a2b, b2a" if isinstance(module, GeneratorPair) else "one (the file's own)"
    return LoadedModel(
        card=request.card,
        module=module,
        forward=_wrap(first),
        device=request.device,
        dtype=request.dtype,
        in_channels=first.in_nc,
        out_channels=first.out_nc,
        size_multiple=4,  # two stride-2 convs down, two transposed convs up
        tileable=False,  # instance norm: statistics of the whole image
        receptive_field=receptive_field(first.n_blocks),
        weights=request.weights,
        hyperparameters=hp,
        # full-resolution layers at ngf channels dominate: input, padded copy, conv and norm outputs
        activation_bytes_per_pixel=16.0 * first.ngf + 48,
    )


def tiny_pair() -> GeneratorPair:
    """A 4-feature, one-block generator pair with random weights (the conformance check's)."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        pair = GeneratorPair(ResnetGenerator(3, 3, 4, 1), ResnetGenerator(3, 3, 4, 1))
        init_normal(pair, 0.2)
    return pair
