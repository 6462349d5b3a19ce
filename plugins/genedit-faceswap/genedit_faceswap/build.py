"""Build the plugin's networks from weights, and the tasks that run them.

Imports torch, so only hook bodies import this module.
"""

from __future__ import annotations

from typing import Any

import torch

from genedit_core.sdk import ImageError, LoadedModel, WeightsError, load_strict

from .align import align
from .mtcnn import MIN_FACE, MTCNN, Faces


def build_mtcnn(request: Any) -> LoadedModel:
    """MTCNN from ``pnet.*``/``rnet.*``/``onet.*`` tensors (the bundled file's layout)."""
    state = request.state_dict
    origin = request.weights.origin if request.weights is not None else "mtcnn"
    if state is None:
        raise WeightsError(f"{origin}: MTCNN needs its weights (the bundled variant 'facenet-pytorch')")
    module = MTCNN()
    load_strict(module, state, origin)
    module = module.eval().to(device=request.device, dtype=request.dtype)

    def best_face(x: torch.Tensor) -> torch.Tensor:
        """The default-size aligned crop of each image's best face (the genedit image convention)."""
        return torch.cat([extract(module, x[i : i + 1])[0][0] for i in range(x.shape[0])])

    return LoadedModel(
        card=request.card,
        module=module,
        forward=best_face,
        device=request.device,
        dtype=request.dtype,
        tileable=False,
        min_size=12,
        hyperparameters={"thresholds": [0.6, 0.7, 0.7], "pyramid_factor": 0.709, "min_face": MIN_FACE},
    )


def extract(
    module: MTCNN,
    image: torch.Tensor,
    size: int = 256,
    padding: float = 0.25,
    min_face: int = MIN_FACE,
    detector: str = "mtcnn",
    dlib_model: str | None = None,
) -> tuple[list[torch.Tensor], Faces, list[torch.Tensor]]:
    """Aligned crops of every face in ``image``, best first, with the detections and transforms.

    ``detector``: MTCNN, or one of :mod:`genedit_faceswap.detectors`' optional ones (boxes from
    a cascade or dlib; MTCNN's O-Net places the 5 points in a cascade's box). Raises an
    ImageError when there is no face, so a batch reports the file and moves on.
    """
    from .detectors import detect

    faces = detect(image, module, detector, min_face, dlib_model)
    if len(faces) == 0:
        hint = "; try --min-face 12" if min_face > 12 else ""
        raise ImageError(f"no face found (smallest face looked for: {min_face} px{hint})")
    crops, matrices = [], []
    for landmarks in faces.landmarks:
        crop, matrix = align(image[:1, :3].float().cpu(), landmarks, size, padding)
        crops.append(crop)
        matrices.append(matrix)
    return crops, faces, matrices


def tiny_mtcnn_state() -> dict[str, torch.Tensor]:
    """Small random weights in the bundled layout whose heads always say "face".

    MTCNN's widths are fixed by its design, so "tiny" means random and scaled down: the score
    biases favour "face" and the landmark biases put the 5 points on a frontal template, so the
    cascade runs every stage and alignment gets distinct points.
    """
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(v.shape, generator=gen) * 0.01 for k, v in MTCNN().state_dict().items()}
    for key in ("pnet.conv4_1.bias", "rnet.dense5_1.bias", "onet.dense6_1.bias"):
        state[key] = torch.tensor([-4.0, 4.0])
    for key in ("pnet.conv4_2.bias", "rnet.dense5_2.bias", "onet.dense6_2.bias"):
        state[key] = torch.zeros(4)
    state["onet.dense6_3.bias"] = torch.tensor([0.3, 0.7, 0.5, 0.35, 0.65, 0.4, 0.4, 0.6, 0.8, 0.8])
    return state
