"""Model cards of genedit-faceswap: what `genedit list` and `genedit info` show.

Plain metadata, no torch: genedit reads cards for every command. MTCNN's weights ship inside the
wheel (converted from facenet-pytorch's MIT-licensed files by scripts/convert_mtcnn_weights.py;
the notice is weights/LICENSE-facenet-pytorch.txt), so detection works offline.
"""

from genedit_core.sdk import ModelCard, Option, WeightFile, WeightVariant

MTCNN_SHA256 = "2ad3592685eb5c1b7ffe1a2c22d32fe5842c565b6d514cf572019be38d99d304"

EXTRACT_OPTIONS = (
    Option(
        "size",
        int,
        256,
        "side of each aligned face crop in pixels (64, 128 and 256 are usual)",
        low=16,
        high=1024,
    ),
    Option(
        "padding",
        float,
        0.25,
        "margin around the landmark template, as a fraction of the crop's side",
        low=0.0,
        high=1.0,
    ),
    Option("min_face", int, 20, "smallest face side in pixels to look for (larger is faster)", low=12),
)

DETECTOR_OPTIONS = (
    Option(
        "detector",
        str,
        "mtcnn",
        "face boxes from mtcnn, lbp (scikit-image's cascade), haar (OpenCV's cascade, Debian opencv-data) "
        "or dlib (installed separately; its 68-point model is non-commercial); MTCNN's O-Net places the "
        "landmarks in a cascade's box",
        choices=("mtcnn", "lbp", "haar", "dlib"),
    ),
    Option("dlib_model", str, None, "dlib's shape_predictor_68_face_landmarks.dat (with --detector dlib)"),
)

MTCNN_CARD = ModelCard(
    name="mtcnn",
    tasks=("extract",),
    family="face-detect",
    summary="MTCNN face detector with 5 landmarks; writes each face aligned to a canonical template.",
    variants=(
        WeightVariant(
            name="facenet-pytorch",
            files={0: WeightFile("weights/mtcnn.safetensors", MTCNN_SHA256)},
            package="genedit_faceswap",
            licence="MIT (facenet-pytorch 2.6.0, Timothy Esler)",
            description="P-, R- and O-Net as facenet-pytorch 2.6.0 ships them, converted to safetensors "
            "by scripts/convert_mtcnn_weights.py (notice: weights/LICENSE-facenet-pytorch.txt).",
        ),
    ),
    default_variant="facenet-pytorch",
    licence="MIT (weights: facenet-pytorch); code Apache-2.0",
    paper="Zhang et al. 2016, Joint Face Detection and Alignment using Multi-task Cascaded Convolutional Networks",
    channels_last=False,
    options={"extract": EXTRACT_OPTIONS + DETECTOR_OPTIONS},
)

DIRECTION = Option(
    "direction", str, "a2b", "a2b: draw a face of A as B; b2a: the other way", choices=("a2b", "b2a")
)

FACESWAP_CARD = ModelCard(
    name="faceswap",
    tasks=("swap", "convert"),
    family="faceswap-autoencoder",
    summary="Shared encoder, one decoder per identity (deepfakes/faceswap's design): 'swap' an aligned "
    "crop, or 'convert' a photo (detect, align, swap, colour-match, blend back). Train it on two folders of faces.",
    licence="Apache-2.0 (your weights: your data's terms)",
    channels_last=False,
    options={
        "swap": (DIRECTION,),
        "convert": (
            DIRECTION,
            Option(
                "colour",
                str,
                "reinhard",
                "colour matching of the swapped face: Reinhard in Lab, histogram (RGB quantiles), or none",
                choices=("reinhard", "histogram", "none"),
            ),
            Option(
                "blend",
                str,
                "feather",
                "how the face goes back: feather (weighted under the feathered mask) or poisson (a seamless "
                "clone first; it matches colours itself, so best with --colour none)",
                choices=("poisson", "feather"),
            ),
            Option(
                "size",
                int,
                None,
                "crop side to align faces at (default: the run's data.size, else 64)",
                low=8,
                high=1024,
            ),
            Option(
                "padding",
                float,
                0.25,
                "margin around the landmark template, as when extracting",
                low=0.0,
                high=1.0,
            ),
            Option("min_face", int, 20, "smallest face side in pixels to look for", low=12),
            *DETECTOR_OPTIONS,
        ),
    },
)

CARDS = [MTCNN_CARD, FACESWAP_CARD]
