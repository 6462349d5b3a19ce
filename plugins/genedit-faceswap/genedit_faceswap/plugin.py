"""The genedit hooks of genedit-faceswap.

genedit imports this module for every command, `genedit list` and `--help` included, so it must
not import torch: the networks are imported inside the hook bodies. genedit calls these hooks for
this plugin's own cards only.
"""

from genedit_core.sdk import hookimpl

from .cards import CARDS


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def load_model(request):
    """Build the network; request.state_dict holds the weights' tensors."""
    from .build import build_mtcnn

    return build_mtcnn(request)


@hookimpl
def edit(request):
    """'extract': every face in request.image, aligned and cropped, best first (one output each)."""
    from .build import extract

    crops, _, _ = extract(
        request.model.module,
        request.image,
        size=request.params.get("size", 256),
        padding=request.params.get("padding", 0.25),
        min_face=request.params.get("min_face", 20),
    )
    return crops


@hookimpl
def tiny_weights(card, scale):
    """Random weights that always detect, for the conformance check in tests/ only."""
    from .build import tiny_mtcnn_state

    return {"state_dict": tiny_mtcnn_state(), "config": {}}


@hookimpl
def register_commands(app):
    """``genedit faceswap extract`` (torch-free to register; see commands.py)."""
    from .commands import register

    register(app)
