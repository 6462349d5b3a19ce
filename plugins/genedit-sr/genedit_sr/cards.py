"""Model cards for the super-resolution plugin.

Hub variants point at the repositories users already download from (facts in the model docs).
Their commits could not be looked up from this offline build machine, so they track ``main`` and
carry no sha256; the card says so. Bundled variants are trained by ``scripts/train_bundled_sr.py``
and described by ``weights/manifest.json`` (filename, sha256, training recipe), which is read here
so that a card only lists bundled weights that are really installed.
"""

from __future__ import annotations

import json
from importlib import resources

from genedit_core.sdk import ModelCard, WeightFile, WeightVariant

UNPINNED = "Hub revision not pinned: tracks 'main' (commit unknown when this card was written)."


def _bundled(model: str) -> tuple[WeightVariant, ...]:
    """The ``bundled`` variant of ``model`` from the manifest, or nothing if no file is shipped."""
    try:
        manifest = json.loads(resources.files("genedit_sr").joinpath("weights/manifest.json").read_text())
    except (FileNotFoundError, OSError, ValueError):
        return ()
    entry = manifest.get(model)
    if not entry:
        return ()
    files = {
        int(s): WeightFile(f"weights/{f['filename']}", f.get("sha256")) for s, f in entry["files"].items()
    }
    return (
        WeightVariant(
            name="bundled",
            files=files,
            package="genedit_sr",
            config=entry.get("config", {}),
            licence=entry.get("licence", "Apache-2.0"),
            description=entry.get("description", "Trained by genedit's own trainer; see docs/models."),
        ),
    )


def _default(variants: tuple[WeightVariant, ...]) -> str | None:
    return variants[0].name if variants else None


def _super_image(repo: str, res_scale: float, what: str) -> WeightVariant:
    """super-image's EDSR files: official key names, 0–1 input, no mean shift (see docs/models)."""
    return WeightVariant(
        name="super-image",
        hf_hub_id=repo,
        files={s: WeightFile(f"pytorch_model_{s}x.pt") for s in (2, 3, 4)},
        config={
            "layout": "edsr-official",
            "rgb_range": 255,
            "mean_shift": False,
            "input_range": 1.0,
            "res_scale": res_scale,
        },
        licence="apache-2.0",
        description=f"{what} from the super-image project. " + UNPINNED,
    )


_EDSR_BASE_HUB = _super_image("eugenesiow/edsr-base", 1.0, "EDSR-baseline (16 blocks, 64 features)")
_EDSR_HUB = _super_image("eugenesiow/edsr", 0.1, "EDSR (32 blocks, 256 features)")
_REALESRGAN_HUB = WeightVariant(
    name="ai-forever",
    hf_hub_id="ai-forever/Real-ESRGAN",
    files={
        2: WeightFile("RealESRGAN_x2.pth"),
        4: WeightFile("RealESRGAN_x4.pth"),
        8: WeightFile("RealESRGAN_x8.pth"),
    },
    config={"layout": "rrdb"},
    licence="bsd-3-clause",
    description="Real-ESRGAN RRDBNet weights as plain state dicts. " + UNPINNED,
)


def _card(name: str, **kw) -> ModelCard:
    # plugin.edit's upscale is exactly the tiled forward clamped to 0-1, for every card here, so a
    # backend's cached program may run it without this plugin's hooks (genedit_core.warm)
    return ModelCard(
        name=name, tasks=("upscale",), family="super-resolution", tiled_forward={"upscale": (0.0, 1.0)}, **kw
    )


def _cards() -> list[ModelCard]:
    edsr_variants = (_EDSR_HUB, *_bundled("edsr-baseline"))
    base_variants = (_EDSR_BASE_HUB, *_bundled("edsr-baseline"))
    espcn = _bundled("espcn")
    srcnn = _bundled("srcnn")
    vdsr = _bundled("vdsr")
    cards = [
        _card(
            "bicubic",
            summary="Bicubic interpolation (PyTorch/OpenCV kernel, a=-0.75); the baseline every SR table quotes.",
            scales=(2, 3, 4, 8),
            needs_weights=False,
            licence="n/a",
            bf16_safe=False,
            channels_last=False,
            any_scale=True,
            default_scale=2,
        ),
        _card(
            "lanczos",
            aliases=("lanczos3",),
            summary="Lanczos-3 resampling; sharper than bicubic, no weights.",
            scales=(2, 3, 4, 8),
            needs_weights=False,
            licence="n/a",
            channels_last=False,
            any_scale=True,
            default_scale=2,
        ),
        _card(
            "edsr",
            summary="EDSR (Lim et al. 2017): residual blocks without BN; hyperparameters read from the weights.",
            scales=(2, 3, 4),
            variants=edsr_variants,
            default_variant="super-image",
            licence="apache-2.0 (weights: see variant)",
            bf16_safe=True,
            paper="https://arxiv.org/abs/1707.02921",
            default_scale=2,
        ),
        _card(
            "edsr-baseline",
            aliases=("edsr-base",),
            summary="EDSR-baseline: 16 blocks, 64 features, ~1.4M parameters; fast and a good default.",
            scales=(2, 3, 4),
            variants=base_variants,
            default_variant="super-image",
            licence="apache-2.0 (weights: see variant)",
            bf16_safe=True,
            paper="https://arxiv.org/abs/1707.02921",
            default_scale=2,
        ),
        _card(
            "realesrgan",
            aliases=("esrgan", "rrdb", "rrdbnet", "real-esrgan"),
            summary="RRDBNet (ESRGAN / Real-ESRGAN): 23 RRDB blocks; all three checkpoint layouts load.",
            scales=(2, 4, 8),
            variants=(_REALESRGAN_HUB,),
            default_variant="ai-forever",
            licence="bsd-3-clause",
            bf16_safe=True,
            paper="https://arxiv.org/abs/2107.10833",
            default_scale=4,
        ),
    ]
    # Architectures whose only weights are ours: always listed (users may bring --weights), and
    # marked "needs --weights" by `genedit list` until bundled weights are installed.
    for name, summary, paper, variants in (
        (
            "espcn",
            "ESPCN (Shi et al. 2016): sub-pixel convolution, very fast.",
            "https://arxiv.org/abs/1609.05158",
            espcn,
        ),
        (
            "srcnn",
            "SRCNN 9-5-5 (Dong et al. 2014) on the Y channel of a bicubic upscale.",
            "https://arxiv.org/abs/1501.00092",
            srcnn,
        ),
        (
            "vdsr",
            "VDSR (Kim et al. 2016): 20-layer residual network on the bicubic upscale.",
            "https://arxiv.org/abs/1511.04587",
            vdsr,
        ),
    ):
        scales = (2, 3, 4)  # what the architecture supports; the bundled files may cover fewer
        cards.append(
            _card(
                name,
                summary=summary,
                scales=scales,
                variants=variants,
                default_variant=_default(variants),
                licence="Apache-2.0",
                bf16_safe=name == "espcn",
                paper=paper,
                default_scale=min(variants[0].files) if variants else 2,
            )
        )
    return cards


CARDS = _cards()
