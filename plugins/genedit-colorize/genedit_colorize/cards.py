"""Model cards of the colourisation plugin: line art from photos (XDoG) and line art to colour.

Plain metadata, no torch: genedit reads cards for every command, ``genedit list`` included. ``xdog``
needs no weights; ``paints`` is trained with ``genedit train paints`` and ships the variants in
``weights/manifest.json`` (see docs/models/paints.md for what each scores).
"""

from __future__ import annotations

from genedit_core.sdk import ModelCard, Option, WeightVariant

# XDoG parameters, in the p-formulation of Winnemöller, Kyprianidis and Olsen 2012 (Eq. 7 and the
# soft threshold): S = (1+p)·G_σ − p·G_kσ on luminance in 0-1, then 1 where S ≥ ε, else 1 + tanh(φ(S−ε)).
XDOG_OPTIONS = (
    Option("sigma", float, 0.8, "σ of the narrow Gaussian in pixels (line width)", low=0.1, high=20.0),
    Option("k", float, 1.6, "ratio of the wide Gaussian's σ to the narrow one's", low=1.01, high=10.0),
    Option("p", float, 20.0, "edge sharpening strength p (τ = p/(1+p))", low=0.0, high=1000.0),
    Option("epsilon", float, 0.0, "threshold ε on the sharpened luminance (0-1)", low=-1.0, high=2.0),
    Option("phi", float, 10.0, "steepness φ of the soft threshold below ε", low=0.0, high=1e6),
)
HINTS = Option(
    "hints",
    str,
    None,
    "hints image, the sketch's size: its opaque pixels are colour hints, transparent ones none; "
    "without it the model colours on its own",
    image=True,
)
HINT = Option(
    "hint",
    str,
    None,
    "one colour hint X,Y,#rrggbb (pixel column and row from the top left, e.g. 120,80,#d03030); "
    "give it once per hint, with or without --hints",
    multiple=True,
)
NO_HINTS = Option("no_hints", bool, False, "colour with no hints at all (automatic colouring)")
COLORIZE_OPTIONS = (HINTS, HINT, NO_HINTS)
EVAL_HINTS = Option(
    "hints",
    str,
    "0,1,5,20",
    "numbers of seeded simulated hints per drawing that genedit eval colorize tries, comma-separated (0-200)",
)
COLORIZE_EVAL = {"colorize": (EVAL_HINTS,)}


def _bundled(model: str) -> tuple[WeightVariant, ...]:
    """The bundled variants of ``model`` from ``weights/manifest.json`` (written by
    scripts/train_bundled_paints.py), or none if no file is shipped."""
    from genedit_core.sdk import bundled_variant, read_weights_manifest

    found = (
        bundled_variant(
            "genedit_colorize",
            entry,
            entry["variant"],
            description="Trained by genedit's own trainer; see docs/models.",
        )
        for entry in read_weights_manifest("genedit_colorize").get(model, [])
    )
    return tuple(v for v in found if v is not None)


PAINTS_WEIGHTS = _bundled("paints")

CARDS = [
    ModelCard(
        name="xdog",
        tasks=("lineart",),
        family="lineart",
        summary="XDoG line extraction (Winnemöller et al. 2012): a photo in, a grey line drawing out.",
        aliases=("x-dog",),
        needs_weights=False,
        licence="n/a (no weights)",
        channels_last=False,
        options={"lineart": XDOG_OPTIONS},
        paper="https://doi.org/10.1016/j.cag.2012.03.004",
    ),
    ModelCard(
        name="paints",
        tasks=("colorize",),
        family="colorize",
        summary="U-Net colouriser (after Zhang et al. 2017): line art plus sparse colour hints "
        "(RGB + mask) to a colour image; train it with genedit train paints.",
        aliases=("colorize-unet",),
        colour_tasks=("colorize",),
        variants=PAINTS_WEIGHTS,
        default_variant=PAINTS_WEIGHTS[0].name if PAINTS_WEIGHTS else None,
        licence="Apache-2.0",
        channels_last=False,
        options={"colorize": COLORIZE_OPTIONS},
        eval_options=COLORIZE_EVAL,
        paper="https://arxiv.org/abs/1705.02999",
    ),
    ModelCard(
        name="flat",
        tasks=("colorize",),
        family="colorize",
        summary="Weight-free baseline: each region enclosed by lines takes the mean colour of its hints.",
        aliases=("flood-fill",),
        colour_tasks=("colorize",),
        needs_weights=False,
        licence="n/a (no weights)",
        channels_last=False,
        options={"colorize": COLORIZE_OPTIONS},
        eval_options=COLORIZE_EVAL,
    ),
    ModelCard(
        name="levin",
        tasks=("colorize",),
        family="colorize",
        summary="Levin, Lischinski and Weiss 2004: hints propagated along the paper by a sparse linear "
        "solve (scipy); weight-free.",
        aliases=("levin2004",),
        colour_tasks=("colorize",),
        needs_weights=False,
        licence="n/a (no weights)",
        channels_last=False,
        options={"colorize": COLORIZE_OPTIONS},
        eval_options=COLORIZE_EVAL,
        paper="https://doi.org/10.1145/1015706.1015780",
    ),
]
