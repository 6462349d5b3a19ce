"""Model cards for the VAE plugin: ``vae``, ``beta-vae`` and ``svae``.

Every variant is bundled: trained by the scripts in ``scripts/`` (named ``*vae*``) with genedit's
own trainer and described by ``weights/manifest.json`` (file, sha256, architecture, recipe,
measured numbers). The manifest is read here, so a card lists exactly the variants whose files are
installed; with no manifest the cards still exist and take ``--weights RUN_DIR`` from a training run.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from genedit_core.sdk import ModelCard, Option, WeightFile, WeightVariant

PACKAGE = "genedit_vae"
VAE_TASKS = ("generate", "reconstruct", "interpolate", "traverse")
SVAE_TASKS = ("sketch2image", "sketch")


# What ops.py reads from request.params, per task (generate's --interpolate/--steps are genedit's own).
_STEPS = "frames from A to B (A and B included)"
VAE_OPTIONS: dict[str, tuple[Option, ...]] = {
    "generate": (
        Option("truncation", float, None, "z scaled by this (unset: plain normal z)", low=0.0, high=1.0),
    ),
    "interpolate": (Option("steps", int, 8, _STEPS, low=2, high=256),),
    "traverse": (
        Option("dims", str, "all", "latent dimensions, one row each: all, 0-9 or 0,3,5"),
        Option("range", float, 3.0, "each dimension goes from -range to +range", low=0.0, high=100.0),
        Option("steps", int, 7, "values per dimension (columns)", low=2, high=64),
    ),
}
SVAE_OPTIONS: dict[str, tuple[Option, ...]] = {
    "sketch": (
        Option(
            "method",
            str,
            None,
            "line extractor (unset: the one the model was trained with)",
            choices=("xdog", "sobel"),
        ),
    ),
    "sketch2image": (
        Option("samples", int, 1, "images per sketch, written _000, _001, ...", low=1, high=256),
        Option(
            "seed", int, 0, "seed of the first sample; the others take the next seeds", low=0, high=2**31 - 1
        ),
        Option("from_photo", bool, False, "the input is a photo: extract its sketch first"),
        Option("mean", bool, False, "decode the prior mean instead of sampling (one deterministic image)"),
    ),
}


def read_manifest() -> dict[str, Any]:
    try:
        text = resources.files(PACKAGE).joinpath("weights/manifest.json").read_text()
        data = json.loads(text)
    except (FileNotFoundError, OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _variants(model: str, manifest: dict[str, Any]) -> tuple[WeightVariant, ...]:
    out = []
    for name, entry in (manifest.get(model) or {}).items():
        if not resources.files(PACKAGE).joinpath(f"weights/{entry['filename']}").is_file():
            continue
        out.append(
            WeightVariant(
                name=name,
                files={0: WeightFile(f"weights/{entry['filename']}", entry.get("sha256"))},
                package=PACKAGE,
                config=entry.get("config", {}),
                licence="Apache-2.0",
                description=entry.get("description", "Trained by genedit's own trainer; see docs/models."),
            )
        )
    return tuple(out)


def _cards() -> list[ModelCard]:
    manifest = read_manifest()
    vae = _variants("vae", manifest)
    beta = _variants("beta-vae", manifest)
    svae = _variants("svae", manifest)
    common = {"family": "vae", "licence": "Apache-2.0", "channels_last": False}
    return [
        ModelCard(
            name="vae",
            tasks=VAE_TASKS,
            summary="Convolutional VAE (Kingma & Welling 2014): Gaussian latent, ELBO in nats per image.",
            variants=vae,
            default_variant=vae[0].name if vae else None,
            paper="https://arxiv.org/abs/1312.6114",
            group_tasks=("interpolate",),
            options=VAE_OPTIONS,
            **common,
        ),
        ModelCard(
            name="beta-vae",
            aliases=("betavae",),
            tasks=VAE_TASKS,
            summary="β-VAE (Higgins et al. 2017; Burgess capacity schedule): disentangled latents, traversals.",
            variants=beta,
            default_variant=beta[0].name if beta else None,
            paper="https://openreview.net/forum?id=Sy2fzU9gl",
            group_tasks=("interpolate",),
            options=VAE_OPTIONS,
            **common,
        ),
        ModelCard(
            name="svae",
            aliases=("sketch-vae",),
            tasks=SVAE_TASKS,
            summary="Sketch-conditioned VAE: a line drawing in, several plausible full images out.",
            variants=svae,
            default_variant=svae[0].name if svae else None,
            paper="https://papers.nips.cc/paper/5775-learning-structured-output-representation-using-deep-conditional-generative-models",
            colour_tasks=("sketch2image",),
            options=SVAE_OPTIONS,
            **common,
        ),
    ]


CARDS = _cards()
