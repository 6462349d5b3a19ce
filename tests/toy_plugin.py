"""A test-only plugin: a 1×1-conv + pixel-shuffle upscaler whose weights say what it does.

``identity`` weights make it a nearest-neighbour upscaler, ``invert`` weights make it return
``1 - nearest``, so a test can tell from the output alone which weights file ran (a revision pin,
the bundled fallback, a Hub spec). The plugin is an object with hook methods, registered inline
through :class:`genedit_core.plugins.GeneditPlugins`, the way pluggy tests register plugins.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from inline_plugin import CardsPlugin, passthrough_model

from genedit_core import hookimpl
from genedit_core.cards import ModelCard, WeightFile, WeightVariant

TOY_REPO = "genedit-test/toy"
TOY_FILE = "toy_x2.safetensors"
BUNDLED_FILE = "weights/toy_bundled_x2.safetensors"


def toy_state(kind: str = "identity", scale: int = 2) -> dict:
    import torch

    weight = torch.zeros(3 * scale * scale, 3, 1, 1)
    for c in range(3):
        weight[c * scale * scale : (c + 1) * scale * scale, c] = 1.0
    bias = torch.zeros(3 * scale * scale)
    if kind == "invert":
        weight, bias = -weight, torch.ones_like(bias)
    elif kind != "identity":
        raise ValueError(kind)
    return {"conv.weight": weight, "conv.bias": bias}


def toy_bytes(kind: str = "identity", scale: int = 2) -> bytes:
    from safetensors.torch import save

    return save(toy_state(kind, scale))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def nearest(x, scale: int = 2):
    return x.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def make_bundle(root: Path, data: bytes) -> str:
    """Write a package holding ``data`` as its bundled weights under ``root``; return its name.

    The caller puts ``root`` on ``sys.path`` (``monkeypatch.syspath_prepend``).
    """
    name = f"genedit_toy_bundle_{uuid.uuid4().hex[:8]}"
    pkg = root / name
    (pkg / "weights").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / BUNDLED_FILE).write_bytes(data)
    return name


def hub_variant(revision: str = "main", sha: str | None = None, filename: str = TOY_FILE) -> WeightVariant:
    return WeightVariant(
        name="hub",
        files={2: WeightFile(filename, sha)},
        hf_hub_id=TOY_REPO,
        revision=revision,
        licence="test",
    )


def bundled_variant(package: str, sha: str | None = None) -> WeightVariant:
    return WeightVariant(name="bundled", files={2: WeightFile(BUNDLED_FILE, sha)}, package=package)


def toy_card(*variants: WeightVariant, name: str = "toy", **kw) -> ModelCard:
    return ModelCard(
        name=name,
        tasks=("upscale",),
        family="toy",
        summary="Nearest-neighbour x2 as a 1x1 conv and a pixel shuffle (tests only).",
        scales=(2,),
        variants=variants,
        default_variant=variants[0].name if variants else None,
        needs_weights=bool(variants),
        channels_last=False,
        **kw,
    )


class ToyPlugin:
    """Owns the cards it is given; builds :class:`ToyNet` from whatever weights were resolved."""

    def __init__(self, *cards: ModelCard, name: str = "toy"):
        self.cards = cards
        self.name = name

    @hookimpl
    def register_models(self, register):
        for card in self.cards:
            register(card)

    @hookimpl
    def load_model(self, request):
        from genedit_core.model import LoadedModel

        net = build_toy(request.state_dict).to(request.device, request.dtype).eval()
        return LoadedModel(
            card=request.card,
            module=net,
            forward=net,
            device=request.device,
            dtype=request.dtype,
            scale=net.scale,
            receptive_field=1,
        )

    @hookimpl
    def edit(self, request):
        if request.task != "upscale":
            return None
        return request.tiler(request.model, request.image)


def build_toy(state: dict):
    import torch
    from torch import nn

    weight = state["conv.weight"]
    scale = int(round((weight.shape[0] // 3) ** 0.5))

    class ToyNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = scale
            self.conv = nn.Conv2d(3, 3 * scale * scale, 1)
            self.shuffle = nn.PixelShuffle(scale)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.shuffle(self.conv(x))

    net = ToyNet()
    net.load_state_dict(state)
    return net.eval()


def resize_card(name: str = "resize", scales: tuple[int, ...] = (2, 3, 4), **kw) -> ModelCard:
    """A weightless upscaler card (what core tests once borrowed genedit-sr's ``bicubic`` for)."""
    return ModelCard(
        name=name,
        tasks=("upscale",),
        family="toy",
        summary="Bicubic resize by F.interpolate, clamped to 0-1 (tests only).",
        scales=scales,
        needs_weights=False,
        channels_last=False,
        **kw,
    )


class ResizePlugin(CardsPlugin):
    """Owns weightless :func:`resize_card` cards: ``F.interpolate(mode)`` at the asked scale, 0–1.

    Core tests of images, outputs and batches need a model whose output they can predict and that
    loads with no weights; this one is that, without depending on any real plugin's resampler.
    """

    def __init__(self, *cards: ModelCard, name: str = "toyresize", mode: str = "bicubic"):
        super().__init__(*(cards or (resize_card(),)), name=name)
        self.mode = mode

    @hookimpl
    def load_model(self, request):
        scale = request.scale or request.card.scales[0]
        net = build_resize(scale, self.mode)
        return passthrough_model(
            request, net, module=net, dtype=request.dtype, scale=scale, receptive_field=2
        )

    @hookimpl
    def edit(self, request):
        if request.task != "upscale":
            return None
        return request.tiler(request.model, request.image)


def build_resize(scale: int, mode: str = "bicubic"):
    import torch.nn.functional as F
    from torch import nn

    class _Resize(nn.Module):
        def forward(self, x):
            kw = {} if mode == "nearest" else {"align_corners": False}
            return F.interpolate(x, scale_factor=scale, mode=mode, **kw).clamp(0, 1)

    return _Resize()


def zoo_cards() -> tuple[ModelCard, ...]:
    """Cards shaped like a real catalogue's, for listing tests: many tasks on one model, a model that
    needs --weights, weights for only some listed scales, many variants, a task of its own."""

    def bundled(name: str, *scales: int) -> WeightVariant:
        files = {s: WeightFile(f"weights/{name}_x{s}.safetensors") for s in scales}
        return WeightVariant(name=name, files=files, package="genedit_toy_zoo_weights")

    def zoo(name: str, tasks: tuple[str, ...], *variants: WeightVariant, **kw) -> ModelCard:
        return ModelCard(
            name=name,
            tasks=tasks,
            family="zoo",
            variants=variants,
            default_variant=variants[0].name if variants else None,
            channels_last=False,
            **kw,
        )

    many = [bundled(n, 1) for n in ("first", "second", "third", "fourth", "fifth", "sixth-of-six")]
    return (
        zoo(
            "morph",
            ("generate", "reconstruct", "interpolate", "traverse"),
            bundled("digits", 1),
            aliases=("morphvae",),
            summary="a generator with four tasks",
        ),
        zoo("needy", ("upscale",), scales=(2,), summary="ships no weights"),
        zoo(
            "partial",
            ("upscale",),
            bundled("bundled", 2, 4),
            scales=(2, 3, 4),
            aliases=("part-x3",),
            summary="Weights for x2 and x4 only",
        ),
        zoo("many", ("generate",), *many, summary="six variants"),
        zoo("sketcher", ("sketch2image",), needs_weights=False, summary="a task no other toy has"),
    )


class ZooPlugin(CardsPlugin):
    """Registers :func:`zoo_cards` and one sample set, ``builtin:zoo-shapes`` (listing tests only)."""

    def __init__(self, name: str = "toyzoo"):
        super().__init__(*zoo_cards(), name=name)

    @hookimpl
    def register_datasets(self, register):
        from genedit_core.datasets import SampleSet

        register(SampleSet("zoo-shapes", "shapes a toy plugin draws", "CC0", "generated (tests only)"))


ENTRY_POINT_MODULE = '''
"""The toy plugins as installed entry points, for tests that run genedit in a subprocess."""
import sys

sys.path.insert(0, {tests!r})
from toy_plugin import ResizePlugin, ToyPlugin, ZooPlugin, hub_variant, toy_card  # noqa: E402

TOY = ToyPlugin(toy_card(hub_variant()))
RESIZE = ResizePlugin()
ZOO = ZooPlugin()
'''


def toy_site(root: Path, zoo: bool = False) -> dict[str, str]:
    """Install the toy plugins as entry points under ``root``; return the environment that loads them alone.

    ``toy`` is :class:`ToyPlugin` with a Hub card (``genedit-test/toy``) and ``toyresize`` is
    :class:`ResizePlugin` (card ``resize``); ``toyzoo`` (:class:`ZooPlugin`) is installed too and
    loaded when ``zoo``. A subprocess sees only installed entry points, so this is how a test that
    runs ``genedit`` as a command uses a toy instead of a real plugin.
    """
    from helpers import write_distribution

    tests = str(Path(__file__).resolve().parent)
    site = root
    if not (root / "genedit_toy_entry.py").exists():  # once per root: later calls reuse it
        write_distribution(
            root,
            "genedit-toy",
            "0.1",
            {
                "toy": "genedit_toy_entry:TOY",
                "toyresize": "genedit_toy_entry:RESIZE",
                "toyzoo": "genedit_toy_entry:ZOO",
            },
            {"genedit_toy_entry": ENTRY_POINT_MODULE.format(tests=tests)},
        )
    import os

    path = os.pathsep.join([str(site), tests, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {"PYTHONPATH": path, "GENEDIT_LOAD_PLUGINS": "toy,toyresize" + (",toyzoo" if zoo else "")}
