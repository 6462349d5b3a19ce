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
    if request.card.name == "faceswap":
        from .autoencoder import build_faceswap

        return build_faceswap(request)
    from .build import build_mtcnn

    return build_mtcnn(request)


@hookimpl
def edit(request):
    """'extract': every face in request.image, aligned and cropped, best first (one output each);
    'swap': an aligned face drawn as the other identity; 'convert': every face of a photo swapped
    and blended back."""
    if request.task == "swap":
        from .autoencoder import swap

        return swap(request.model, request.image, request.params.get("direction", "a2b"))
    if request.task == "convert":
        from .convert import convert

        p = request.params
        size = p.get("size") or request.model.hyperparameters["size"]
        return convert(
            request.model,
            request.image,
            p.get("direction", "a2b"),
            size=-(-size // 8) * 8,  # the network's grid
            padding=p.get("padding", 0.25),
            colour=p.get("colour", "reinhard"),
            blend=p.get("blend", "feather"),
            min_face=p.get("min_face", 20),
            detector=p.get("detector", "mtcnn"),
            dlib_model=p.get("dlib_model"),
        )
    from .build import extract

    crops, _, _ = extract(
        request.model.module,
        request.image,
        size=request.params.get("size", 256),
        padding=request.params.get("padding", 0.25),
        min_face=request.params.get("min_face", 20),
        detector=request.params.get("detector", "mtcnn"),
        dlib_model=request.params.get("dlib_model"),
    )
    return crops


@hookimpl
def tiny_weights(card, scale):
    """Random weights (for MTCNN: ones that always detect), for the conformance check in tests/ only."""
    if card.name == "faceswap":
        from .autoencoder import tiny_state

        return {"state_dict": tiny_state(), "config": {}}
    from .build import tiny_mtcnn_state

    return {"state_dict": tiny_mtcnn_state(), "config": {}}


@hookimpl
def train(request):
    """The shared encoder and two decoders, trained on two folders of aligned faces."""
    if request.card.name != "faceswap":
        return None
    from .training import FaceSwapTask

    return FaceSwapTask()


@hookimpl
def register_commands(app):
    """``genedit faceswap extract`` (torch-free to register; see commands.py)."""
    from .commands import register

    register(app)
