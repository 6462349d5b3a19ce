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

from genedit_core.sdk import ModelCard, WeightFile, WeightVariant

PACKAGE = "genedit_vae"
VAE_TASKS = ("generate", "reconstruct", "interpolate", "traverse")
SVAE_TASKS = ("sketch2image", "sketch")


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
            **common,
        ),
    ]


CARDS = _cards()
