"""Optional face detectors beside MTCNN: cascades (scikit-image's LBP cascade, or OpenCV's Haar
cascades from Debian's ``opencv-data``) and dlib's 68-point predictor when dlib is installed.

Imports torch, so only hook and command bodies import this module. Alignment needs 5 landmarks:
a cascade gives only a box, so MTCNN's O-Net (bundled) places the 5 points inside each box; dlib
gives 68 points, from which the eye centres, the nose tip and the mouth corners are taken.

Licences: the cascades are BSD/Intel-licensed data; dlib's 68-point model
(``shape_predictor_68_face_landmarks.dat``, not shipped here) is trained on iBUG 300-W, whose
images exclude commercial use, so that detector is for non-commercial work only.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
import torch

from genedit_core.sdk import GeneditWarning, UsageError

from .mtcnn import MTCNN, Faces

DETECTORS = ("mtcnn", "lbp", "haar", "dlib")
HAAR_FOLDERS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")
HAAR_FILE = "haarcascade_frontalface_default.xml"


def haar_cascade_path() -> Path | None:
    """OpenCV's frontal-face Haar cascade as Debian's opencv-data installs it, if there."""
    for folder in HAAR_FOLDERS:
        path = Path(folder) / HAAR_FILE
        if path.is_file():
            return path
    return None


def detect(
    image: torch.Tensor,
    mtcnn: MTCNN,
    detector: str = "mtcnn",
    min_face: int = 20,
    dlib_model: str | None = None,
) -> Faces:
    """Faces of ``image`` (1×3×H×W in 0-1) with 5 landmarks each, by ``detector``."""
    if detector == "mtcnn":
        return mtcnn.detect(image, min_face=min_face)
    if detector == "dlib":
        return _dlib(image, dlib_model, min_face)
    if detector == "haar":
        path = haar_cascade_path()
        if path is None:
            warnings.warn(
                "OpenCV's Haar cascades are not installed (Debian: apt-get install opencv-data); "
                "using scikit-image's LBP cascade",
                GeneditWarning,
                stacklevel=2,
            )
            detector = "lbp"
        else:
            boxes = _haar(image, path, min_face)
    if detector == "lbp":
        boxes = _lbp(image, min_face)
    elif detector != "haar":
        raise UsageError(f"--detector {detector}: expected one of {', '.join(DETECTORS)}")
    return landmarks_in_boxes(image, mtcnn, boxes)


@torch.no_grad()
def landmarks_in_boxes(image: torch.Tensor, mtcnn: MTCNN, boxes: torch.Tensor) -> Faces:
    """O-Net's 5 landmarks and face score inside each N×4 box (squared first, as MTCNN does)."""
    from .mtcnn import _crops, _square

    if len(boxes) == 0:
        return Faces(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 5, 2))
    param = next(mtcnn.parameters())
    x = ((image[:1, :3] * 255 - 127.5) / 128).to(param.device, param.dtype)
    square = _square(boxes.to(x.dtype).to(x.device))
    _, points, prob = mtcnn.onet(_crops(x, square, 48))
    wh = square[:, 2:] - square[:, :2]
    landmarks = torch.stack([points[:, :5], points[:, 5:]], 2) * wh[:, None] + square[:, None, :2]
    order = prob[:, 1].argsort(descending=True).cpu()
    return Faces(boxes.float().cpu()[order], prob[:, 1].float().cpu()[order], landmarks.float().cpu()[order])


def _grey(image: torch.Tensor) -> np.ndarray:
    r, g, b = image[0, :3].float().cpu()
    return (0.299 * r + 0.587 * g + 0.114 * b).numpy()


@functools.lru_cache(maxsize=1)
def _lbp_cascade():
    from skimage import data
    from skimage.feature import Cascade

    return Cascade(data.lbp_frontal_face_cascade_filename())


def _lbp(image: torch.Tensor, min_face: int) -> torch.Tensor:
    """Boxes from scikit-image's LBP frontal-face cascade (OpenCV's lbpcascade_frontalface)."""
    try:
        cascade = _lbp_cascade()
    except ImportError:
        raise UsageError("--detector lbp needs scikit-image: pip install scikit-image") from None
    grey = _grey(image)
    side = min(grey.shape)
    found = cascade.detect_multi_scale(
        img=grey, scale_factor=1.2, step_ratio=1, min_size=(min_face, min_face), max_size=(side, side)
    )
    boxes = [[d["c"], d["r"], d["c"] + d["width"], d["r"] + d["height"]] for d in found]
    return torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)  # already grouped by scikit-image


def _haar(image: torch.Tensor, path: Path, min_face: int) -> torch.Tensor:
    from .haar import HaarCascade

    cascade = HaarCascade.load(path)
    return _merge(cascade.detect(_grey(image), min_size=min_face))


def _merge(boxes: torch.Tensor, threshold: float = 0.3, neighbours: int = 3) -> torch.Tensor:
    """Overlapping hits of one face (a cascade fires at neighbouring positions and scales) averaged
    into one box; clusters of fewer than ``neighbours`` hits are dropped as likely false alarms
    (OpenCV's minNeighbors)."""
    from .mtcnn import box_iou

    if len(boxes) == 0:
        return boxes
    iou = box_iou(boxes)
    left = torch.ones(len(boxes), dtype=torch.bool)
    merged = []
    for i in range(len(boxes)):
        if not left[i]:
            continue
        group = left & (iou[i] > threshold)
        left &= ~group
        if int(group.sum()) >= neighbours:
            merged.append(boxes[group].mean(0))
    return torch.stack(merged) if merged else boxes.new_zeros(0, 4)


def _dlib(image: torch.Tensor, model: str | None, min_face: int) -> Faces:
    """dlib's HOG face detector and 68-point predictor; the 5 points are the eye centres (mean of
    each eye's 6 points), the nose tip (30) and the mouth corners (48, 54)."""
    try:
        import dlib  # type: ignore[import-not-found]
    except ImportError:
        raise UsageError(
            "--detector dlib needs dlib (pip install dlib) and its 68-point model "
            "(--dlib-model shape_predictor_68_face_landmarks.dat; iBUG 300-W: non-commercial use only)"
        ) from None
    if not model or not Path(model).is_file():
        raise UsageError(f"--dlib-model {model}: the 68-point predictor file is needed (not found)")
    pixels = (image[0, :3].permute(1, 2, 0).clamp(0, 1) * 255).round().byte().cpu().numpy()
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model))
    rects = [r for r in detector(pixels, 1) if min(r.width(), r.height()) >= min_face]
    boxes, points = [], []
    for r in rects:
        shape = predictor(pixels, r)
        p = np.array([[shape.part(i).x + 0.5, shape.part(i).y + 0.5] for i in range(68)], np.float32)
        points.append(np.stack([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]]))
        boxes.append([r.left(), r.top(), r.right() + 1, r.bottom() + 1])
    if not boxes:
        return Faces(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, 5, 2))
    return Faces(
        torch.tensor(boxes, dtype=torch.float32), torch.ones(len(boxes)), torch.from_numpy(np.stack(points))
    )
