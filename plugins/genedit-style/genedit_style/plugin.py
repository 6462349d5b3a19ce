"""The genedit hooks of genedit-style.

genedit imports this module for every command, `genedit list` and `--help` included, so it
imports no torch: networks and optimisation are imported inside the hook bodies. genedit calls
these hooks for this plugin's own cards only.
"""

from genedit_core.sdk import hookimpl

from .cards import CARDS


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def load_model(request):
    if request.card.name == "fast-style":
        from .fast_style import build

        return build(request)
    if request.card.name == "colour-transfer":
        from .colour import build

        return build(request)
    if request.card.name == "multistyle":
        from .multistyle import build

        return build(request)
    from .build import build_gatys

    return build_gatys(request)


@hookimpl
def edit(request):
    """Stylize request.image (1×3×H×W, 0-1) with the options in request.params."""
    if request.card.name == "fast-style":
        return request.model(request.image).float()
    if request.card.name == "multistyle":
        from .multistyle import parse_styles, stylize

        net = request.model.module
        return stylize(net, request.image, parse_styles(request.params.get("style"), net.styles)).float()
    if request.card.name == "colour-transfer":
        from genedit_core.sdk import get_float

        from .colour import reinhard
        from .styleimage import read_style

        strength = get_float(request.params, "strength", 1.0, lo=0.0, hi=1.0)
        image = request.image
        style = read_style(request.params.get("style"), image.shape[-2] * image.shape[-1])
        return reinhard(image, style, strength).float()
    from .gatys import stylize
    from .options import GatysSettings
    from .styleimage import read_style

    defaults = request.model.hyperparameters.get("option_defaults", {})
    params = {**defaults, **request.params}
    settings = GatysSettings.from_params(params)  # before any work: a bad option stops the batch
    image = request.image
    style = read_style(params.get("style"), image.shape[-2] * image.shape[-1])
    # each L-BFGS step moves the image's bar (genedit run) or job fraction (genedit serve), and
    # the bar shows the step's content, style and TV losses
    return stylize(request.model.module, image, style, settings, request.progress).image.float()


@hookimpl
def train(request):
    """Fast style only: Gatys optimises each image and has nothing to train."""
    if request.card.name != "fast-style":
        return None
    from .fast_style import FastStyleTask

    return FastStyleTask()


@hookimpl
def tiny_weights(card, scale):
    """Tiny random networks in each card's default layout, for the conformance check."""
    if card.name == "colour-transfer":
        return None  # no weights: the check loads it without any
    if card.name == "multistyle":
        from .multistyle import tiny_state

        return {"state_dict": tiny_state()}
    if card.name == "fast-style":
        from .fast_style import TransformerNet

        return {"state_dict": TransformerNet(width=4).state_dict()}
    from .build import tiny_vgg16_hed

    # a tiny network's folder also says how long to optimise (see build.option_defaults)
    return {"state_dict": tiny_vgg16_hed(), "config": {"options": {"steps": 4}}}
