"""Model cards of the GAN plugin (torch-free: ``genedit list`` imports this).

Hub variants point at the repositories users already download from. Their commits could not be
looked up from the offline machine these cards were written on, so they track ``main`` and carry no
sha256; each description says so. Bundled weights are trained by ``scripts/train_dcgan_digits.py``
and described in ``weights/manifest.json`` (file, sha256, recipe, measured scores); a card lists a
bundled variant only when the manifest names a file that is really installed.
"""

from __future__ import annotations

from genedit_core.sdk import ModelCard, Option, WeightFile, WeightVariant

UNPINNED = "Hub revision not pinned: tracks 'main' (commit unknown when this card was written)."
PACKAGE = "genedit_gan"


def read_manifest() -> dict:
    from genedit_core.sdk import read_weights_manifest

    return read_weights_manifest(PACKAGE)


def _bundled(model: str) -> tuple[WeightVariant, ...]:
    from genedit_core.sdk import bundled_variant

    entry = read_manifest().get(model)
    if not entry:
        return ()
    variant = bundled_variant(
        PACKAGE,
        entry,
        entry.get("variant", "bundled"),
        description="Trained by genedit's own trainer; see docs/models.",
    )
    return (variant,) if variant else ()


_HUGGAN_MNIST = WeightVariant(
    name="huggan-mnist",
    hf_hub_id="huggan/dcgan-mnist",
    files={0: WeightFile("pytorch_model.bin")},
    config={"layout": "huggan"},
    licence="see the Hub repository",
    description="HugGAN community DCGAN on MNIST (64×64, 1 channel, `model.*` keys). " + UNPINNED,
)

_STYLEGAN2_HUB = tuple(
    WeightVariant(
        name=f"{what}-config-f",
        hf_hub_id="aaronb/StyleGAN2",
        files={0: WeightFile(f"stylegan2-{what}-config-f.pt")},
        config={"layout": "rosinality"},
        licence="nvidia-source-code-license-nc (StyleGAN2 weights, non-commercial)",
        description=f"Official StyleGAN2 config-f {what} weights in rosinality's layout (g_ema + latent_avg). "
        + UNPINNED,
    )
    for what in ("ffhq", "cat", "car", "church", "horse")
)

_BIGGAN_DEEP_128 = WeightVariant(
    name="deep-128",
    hf_hub_id="osanseviero/BigGAN-deep-128",
    files={0: WeightFile("pytorch_model.bin")},
    config={"layout": "pytorch-pretrained-biggan", "default_truncation": 0.4},
    licence="apache-2.0",
    description="BigGAN-deep 128×128 ImageNet (pytorch-pretrained-BigGAN layout, 1000 classes). " + UNPINNED,
)


SEED_MAX = 2**63 - 1  # what torch.Generator.manual_seed takes

# What sampling.py reads from request.params, per family (--interpolate/--steps are genedit's own).
_TRUNCATION_Z = Option(
    "truncation",
    float,
    None,
    "z from a truncated normal, scaled by this; 0 gives one image for every seed (unset: plain normal z)",
    low=0.0,
    high=1.0,
)
_TRUNCATION_BIGGAN = Option(
    "truncation",
    float,
    None,
    "z from a truncated normal, scaled by this (unset: the weights' default_truncation, else 1)",
    low=0.0,
    high=1.0,
)
_CLASS = Option("class", str, None, "class index or name for every image (unset: a class per seed)")
_STYLEGAN2 = (
    Option(
        "truncation", float, 1.0, "psi: w pulled towards the mean w (0: the mean image)", low=0.0, high=1.0
    ),
    Option(
        "style_mix",
        int,
        None,
        "seed whose styles replace the fine layers of each image",
        low=0,
        high=SEED_MAX,
    ),
    Option(
        "mix_layer", int, None, "first layer that takes --style-mix's styles (unset: half the layers)", low=1
    ),
    Option(
        "noise",
        str,
        "const",
        "noise maps: the trained constants, per-seed random, or none",
        choices=("const", "random", "none"),
    ),
)


def _card(name: str, options: tuple[Option, ...] = (_TRUNCATION_Z,), **kw) -> ModelCard:
    return ModelCard(
        name=name,
        tasks=("generate",),
        family="gan",
        channels_last=False,
        options={"generate": options},
        **kw,
    )


def _default(variants: tuple[WeightVariant, ...]) -> str | None:
    return variants[0].name if variants else None


def _cards() -> list[ModelCard]:
    dcgan = (*_bundled("dcgan"), _HUGGAN_MNIST)
    gan = _bundled("gan")
    biggan = (*_bundled("biggan"), _BIGGAN_DEEP_128)
    stylegan2 = (*_bundled("stylegan2"), *_STYLEGAN2_HUB)
    return [
        _card(
            "gan",
            aliases=("mlp-gan", "vanilla-gan"),
            summary="The original GAN (Goodfellow et al. 2014): fully connected G and D. Train your own "
            "with 'genedit train gan'; load it with --weights RUN_DIR.",
            variants=gan,
            default_variant=_default(gan),
            licence="Apache-2.0 (code)",
            paper="https://arxiv.org/abs/1406.2661",
        ),
        _card(
            "dcgan",
            summary="DCGAN (Radford et al. 2015): transposed-conv G with BN/ReLU, strided-conv D. "
            "pytorch/examples (main.*) and HugGAN (model.*) checkpoints load.",
            variants=dcgan,
            default_variant=_default(dcgan),
            licence="Apache-2.0 (code); weights: see variant",
            paper="https://arxiv.org/abs/1511.06434",
        ),
        _card(
            "biggan",
            aliases=("biggan-deep",),
            summary="BigGAN / BigGAN-deep (Brock et al. 2019): class-conditional, spectral norm, self-attention, "
            "truncation trick. Loads pytorch-pretrained-BigGAN checkpoints.",
            variants=biggan,
            default_variant=_default(biggan),
            licence="Apache-2.0 (code); weights: see variant",
            paper="https://arxiv.org/abs/1809.11096",
            options=(_TRUNCATION_BIGGAN, _CLASS),
        ),
        _card(
            "stylegan2",
            summary="StyleGAN2 (Karras et al. 2020) in pure PyTorch (no custom CUDA ops): mapping network, "
            "modulated convs, truncation psi, style mixing. Loads rosinality .pt files.",
            variants=stylegan2,
            default_variant=_default(stylegan2),
            licence="Apache-2.0 (code); weights: see variant",
            paper="https://arxiv.org/abs/1912.04958",
            keep_keys=("latent_avg",),
            options=_STYLEGAN2,
        ),
    ]


CARDS = _cards()
