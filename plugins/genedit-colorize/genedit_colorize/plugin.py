"""genedit hook implementations for colourisation: tasks ``lineart`` (XDoG) and ``colorize`` (paints).

Imported by ``genedit list``: keep it free of torch. Everything heavy is imported in hook bodies.
genedit calls these hooks for this plugin's own cards only.
"""

from __future__ import annotations

from genedit_core.sdk import hookimpl

from .cards import CARDS


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def register_datasets(register):
    """``builtin:clipart`` (Open Clip Art drawings, rendered lazily by genedit_colorize.clipart)."""
    from genedit_core.sdk import SampleSet

    from .clipart import INSTALL_LINE, ROOT

    missing = "" if ROOT.is_dir() else f" (not installed here: {INSTALL_LINE})"
    source = "Debian openclipart-svg (/usr/share/openclipart), rendered by cairosvg; apt-get install openclipart-svg"
    licence = "public domain dedication (Open Clip Art Library)"
    register(
        SampleSet(
            "clipart",
            "line art / colour pairs from openclipart-svg drawings: strokes only (fills stripped) and "
            "the whole drawing" + missing,
            licence,
            source,
        )
    )
    register(
        SampleSet(
            "clipart:heldout",
            "held-out drawings of builtin:clipart (1 in 50, by a hash of the path), for evaluation" + missing,
            licence,
            source,
        )
    )


@hookimpl
def load_model(request):
    from .build import build

    return build(request)


@hookimpl
def edit(request):
    from .tasks import run_task

    return run_task(request)


@hookimpl
def train(request):
    if request.card.name != "paints":
        return None
    from .training import PaintsTask

    return PaintsTask()


@hookimpl
def evaluate(request):
    from .evaluation import evaluate as run

    return run(request)


@hookimpl
def tiny_weights(card, scale):
    """A 2-feature paints U-Net with random weights, for the conformance check (tests only)."""
    if card.name != "paints":
        return None
    from .network import PaintsUNet

    return {"state_dict": PaintsUNet(features=2).state_dict()}
