"""The convert stage: swap every face of an image and put it back where it was.

Imports torch, so only hook bodies import this module. Per face: MTCNN finds it and its landmarks,
the similarity transform aligns it as extraction did, the autoencoder draws it as the other
identity, Reinhard's colour transfer (mean and spread per Lab channel, inside the face) matches
the swap to the original crop's colours, and the crop is warped back through the inverse
transform and blended under a feathered elliptical mask (``--blend poisson``: after a seamless
clone), so there is no pasted square and no colour step at its edge (faceswap #30, PR #258).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from genedit_core.sdk import GeneditWarning, LoadedModel, UsageError, lab_to_rgb, load, rgb_to_lab

from .align import align


def reinhard(source: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``source`` with the mean and standard deviation of each Lab channel of ``reference``, both
    measured where ``mask`` (N×1×H×W weights) is set (Reinhard et al. 2001)."""
    s, r = rgb_to_lab(source), rgb_to_lab(reference)
    w = mask / mask.sum((2, 3), keepdim=True).clamp(min=1e-6)

    def stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (x * w).sum((2, 3), keepdim=True)
        return mean, ((x - mean) ** 2 * w).sum((2, 3), keepdim=True).sqrt().clamp(min=1e-3)

    (ms, ss), (mr, sr) = stats(s), stats(r)
    return lab_to_rgb((s - ms) / ss * sr + mr).clamp(0, 1)  # Lab shifts can leave the RGB gamut


def feather_mask(size: int, padding: float) -> torch.Tensor:
    """1×1×size×size weights: 1 on the face (an ellipse around the template's eyes, nose and mouth),
    falling smoothly to 0 well inside the crop's border."""
    t = (torch.arange(size) + 0.5) / size - 0.5
    y, x = torch.meshgrid(t, t, indexing="ij")
    k = 1 + 2 * padding  # the template's frame is the crop shrunk by this factor
    r = torch.sqrt((x * k / 0.36) ** 2 + ((y * k - 0.07) / 0.45) ** 2)  # face ellipse in template units
    return ((1.15 - r) / 0.3).clamp(0, 1)[None, None]  # 1 inside r 0.85, 0 from r 1.15 out


def warp_back(
    image: torch.Tensor, crop: torch.Tensor, mask: torch.Tensor, matrix: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``crop`` and ``mask`` warped back onto ``image``'s grid through ``matrix`` (the 2×3
    image-to-crop transform): the face (1×3×H×W) and its weight (1×1×H×W, 0 off the crop)."""
    _, _, h, w = image.shape
    size = crop.shape[-1]
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.double) + 0.5, torch.arange(w, dtype=torch.double) + 0.5, indexing="ij"
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ matrix.double().T
    grid = (points / size * 2 - 1)[None].to(image.dtype)
    face = F.grid_sample(crop, grid, mode="bilinear", padding_mode="border", align_corners=False)
    weight = F.grid_sample(mask, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return face, weight


def paste(
    image: torch.Tensor, crop: torch.Tensor, mask: torch.Tensor, matrix: torch.Tensor, blend: str = "feather"
) -> torch.Tensor:
    """``image`` with ``crop`` blended in under ``mask``, both warped back through ``matrix``;
    pixels the mask does not reach are left exactly as they were.

    ``feather``: a weighted average under the feathered mask. ``poisson``: the face is first cloned
    into the mask (weights ≥ 0.5) by :func:`~genedit_faceswap.blend.poisson_blend` (its gradients,
    the photo's colours on the border), then feathered in, so no colour step is left at the edge.
    """
    face, weight = warp_back(image, crop, mask, matrix)
    if blend == "poisson":
        from .blend import poisson_blend

        # the clone's border is the mask's own (weight 0.5): a border out in the feathered ring
        # crosses the photo's face edge, and its colours bleed inwards (Pérez et al.'s caveat)
        face = poisson_blend(image[0], face[0], weight[0, 0] >= 0.5)[None]
    elif blend != "feather":
        raise UsageError(f"--blend {blend}: expected poisson or feather")
    return torch.where(weight > 0, image * (1 - weight) + face * weight, image)


def histogram_match(source: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``source`` with each RGB channel's distribution inside ``mask`` (weights > 0.5) mapped onto
    ``reference``'s there, quantile for quantile; a stronger match than Reinhard's two moments."""
    inside = mask[0, 0] > 0.5
    out = source.clone()
    for ch in range(source.shape[1]):
        src, ref = source[0, ch], reference[0, ch][inside].sort().values
        ranks = src[inside].sort().values
        q = torch.searchsorted(ranks.contiguous(), src.contiguous().reshape(-1)).clamp(max=len(ranks) - 1)
        pos = q.to(torch.float32) / max(len(ranks) - 1, 1) * (len(ref) - 1)
        out[0, ch] = ref[pos.round().long()].reshape(src.shape)
    return out


@functools.lru_cache(maxsize=2)
def _detector(device: str) -> LoadedModel:
    """The bundled MTCNN, loaded once per device (every frame of a video needs it)."""
    return load("mtcnn", device=device)


def swap_face(
    swapper: LoadedModel,
    image: torch.Tensor,
    landmarks: torch.Tensor,
    direction: str,
    *,
    size: int,
    padding: float = 0.25,
    colour: str = "reinhard",
    blend: str = "feather",
) -> torch.Tensor:
    """``image`` with the face at ``landmarks`` (5×2 pixels) aligned, swapped, colour-matched and
    blended back; the whole convert stage for one face whose landmarks are known. A run trained
    with ``model.mask=true`` blends under the mask its decoder draws (times the feathered ellipse)."""
    from .autoencoder import swap_with_mask

    mask = feather_mask(size, padding)
    crop, matrix = align(image, landmarks, size, padding)
    swapped, learned = swap_with_mask(swapper, crop, direction)
    if learned is not None:  # the run's learnt mask, still faded out before the crop's border
        mask = mask * learned
    if colour == "reinhard":
        swapped = reinhard(swapped, crop, mask)
    elif colour == "histogram":
        swapped = histogram_match(swapped, crop, mask)
    elif colour != "none":
        raise UsageError(f"--colour {colour}: expected reinhard, histogram or none")
    return paste(image, swapped, mask, matrix, blend)


def convert(
    swapper: LoadedModel,
    image: torch.Tensor,
    direction: str,
    *,
    size: int,
    padding: float = 0.25,
    colour: str = "reinhard",
    blend: str = "feather",
    min_face: int = 20,
    detector: str = "mtcnn",
    dlib_model: str | None = None,
) -> torch.Tensor:
    """``image`` (1×3×H×W in 0-1) with every face swapped; without a face, unchanged (with a warning)."""
    out, found = convert_faces(
        swapper, image, direction, size=size, padding=padding, colour=colour, blend=blend,
        min_face=min_face, detector=detector, dlib_model=dlib_model,
    )  # fmt: skip
    if not found:
        warnings.warn("no face found; the image is written unchanged", GeneditWarning, stacklevel=2)
    return out


def convert_faces(
    swapper: LoadedModel,
    image: torch.Tensor,
    direction: str,
    *,
    size: int,
    padding: float = 0.25,
    colour: str = "reinhard",
    blend: str = "feather",
    min_face: int = 20,
    detector: str = "mtcnn",
    dlib_model: str | None = None,
) -> tuple[torch.Tensor, int]:
    """:func:`convert`'s image and how many faces it swapped (0: the image, unchanged)."""
    from .detectors import detect

    mtcnn = _detector(str(swapper.device))
    image = image[:, :3].float().cpu()
    faces = detect(image, mtcnn.module, detector, min_face, dlib_model)
    out = image.clone()
    for landmarks in faces.landmarks:
        out = swap_face(
            swapper, out, landmarks, direction, size=size, padding=padding, colour=colour, blend=blend
        )
    return out.clamp(0, 1), len(faces)


def video_provenance(swapper: LoadedModel, src: Path, params: dict[str, Any], fps: float) -> dict[str, Any]:
    """What a converted video records in its comment tag: the fields genedit writes into every
    image output, the model's synthetic mark and run, and the frame rate kept."""
    from genedit_core.sdk import __version__, dtype_name

    weights = swapper.weights
    return {
        **swapper.provenance,
        "genedit": __version__,
        "task": "convert",
        "model": swapper.card.name,
        "weights": weights.origin if weights else None,
        "weights_sha256": weights.sha256 if weights else None,
        "device": str(swapper.device),
        "dtype": dtype_name(swapper.dtype),
        "input": src.name,
        "params": params,
        "fps": fps,
    }


def convert_video(
    swapper: LoadedModel,
    src: str | Path,
    dest: str | Path,
    params: dict[str, Any],
    progress: Callable[[str, int | None, int | None], None] | None = None,
) -> tuple[int, int]:
    """Convert every frame of the video ``src`` into ``dest`` at the source's frame rate; returns
    (frames written, frames without a face). An undecodable ``src`` is an ImageError before
    anything is written; ``dest`` appears only once complete."""
    from .video import open_video, write_video

    src = Path(src)
    info, frames = open_video(src)
    size = int(params.get("size") or swapper.hyperparameters.get("size", 64))
    faceless = 0

    def swapped() -> Iterator[torch.Tensor]:
        nonlocal faceless
        for i, frame in enumerate(frames):
            if progress is not None:
                progress("converting frames", i, info.frames)
            out, found = convert_faces(
                swapper, frame, params.get("direction", "a2b"), size=-(-size // 8) * 8,
                padding=params.get("padding", 0.25), colour=params.get("colour", "reinhard"),
                blend=params.get("blend", "feather"), min_face=params.get("min_face", 20),
                detector=params.get("detector", "mtcnn"), dlib_model=params.get("dlib_model"),
            )  # fmt: skip
            faceless += found == 0
            yield out

    try:
        count = write_video(dest, swapped(), info.fps, video_provenance(swapper, src, params, info.fps))
    finally:
        frames.close()
    return count, faceless
