"""MTCNN (Zhang et al. 2016): three cascaded nets that find faces and their 5 landmarks.

Imports torch, so only hook bodies import this module.

Written for genedit from the published architecture; the layer names are those of the state dicts
facenet-pytorch ships (``conv1``, ``prelu1``, ... ``dense6_3``) so its converted weights load with
``load_strict``. Two facts of those weights shape the code: inputs are RGB scaled as
``(255 x - 127.5) / 128``, and R-/O-Net were trained in Caffe on transposed images, so their
feature maps are flattened in (W, H, C) order before the dense layers.

The cascade: P-Net, fully convolutional, scores 12x12 windows of an image pyramid (scale step
0.709 from 12/min_face down to where the image is 12 px); R-Net re-scores 24x24 crops of the
surviving boxes and O-Net 48x48 ones, which also gives 5 landmarks (eyes, nose, mouth corners).
Each stage thresholds, regresses its boxes and suppresses overlaps (NMS, written here in torch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

THRESHOLDS = (0.6, 0.7, 0.7)  # face probability each stage keeps
FACTOR = 0.709  # pyramid scale step
MIN_FACE = 20  # smallest face side, in pixels, the pyramid looks for


class PNet(nn.Module):
    """Proposal net: a 12x12 window per output cell, stride 2; face score and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(1)


def _flatten_caffe(x: torch.Tensor) -> torch.Tensor:
    """Flatten in the (W, H, C) order the transposed-image Caffe training fixed."""
    return x.permute(0, 3, 2, 1).reshape(x.shape[0], -1)


class RNet(nn.Module):
    """Refinement net on 24x24 crops: face score and box offsets."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu4(self.dense4(_flatten_caffe(self.prelu3(self.conv3(x)))))
        return self.dense5_2(x), self.dense5_1(x).softmax(1)


class ONet(nn.Module):
    """Output net on 48x48 crops: face score, box offsets and 5 landmarks (x1..x5, y1..y5)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu5(self.dense5(_flatten_caffe(self.prelu4(self.conv4(x)))))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(1)


@dataclass
class Faces:
    """Detections in one image, in pixel coordinates (pixel i spans [i, i+1)).

    ``boxes`` N x 4 (x1, y1, x2, y2), ``scores`` N, ``landmarks`` N x 5 x 2 (x, y of left eye,
    right eye, nose, left and right mouth corner, left/right as seen in the image).
    """

    boxes: torch.Tensor
    scores: torch.Tensor
    landmarks: torch.Tensor

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


def box_iou(boxes: torch.Tensor, mode: str = "union") -> torch.Tensor:
    """Pairwise overlap of N x 4 boxes: intersection over union, or over the smaller area."""
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    lt = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    if mode == "min":
        denom = torch.minimum(area[:, None], area[None, :])
    else:
        denom = area[:, None] + area[None, :] - inter
    return inter / denom.clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float, mode: str = "union") -> torch.Tensor:
    """Indices of the boxes greedy non-maximum suppression keeps, best score first.

    A box is dropped when it overlaps an already kept, better-scoring box by more than
    ``threshold`` (``mode`` "union": IoU; "min": intersection over the smaller box).
    """
    if boxes.shape[0] == 0:
        return torch.zeros(0, dtype=torch.long)
    order = scores.argsort(descending=True)
    over = (box_iou(boxes[order], mode) > threshold).cpu()
    left = torch.arange(len(order))
    keep = []
    while len(left):  # one step per kept box: it takes out every later box it overlaps
        keep.append(int(left[0]))
        left = left[1:][~over[left[0], left[1:]]]
    return order[torch.tensor(keep, dtype=torch.long)]


def _regress(boxes: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Shift each box's sides by its offsets, in units of the box's width and height."""
    wh = (boxes[:, 2:] - boxes[:, :2]).repeat(1, 2)
    return boxes + offsets * wh


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """The square of side max(w, h) around each box's centre (the next stage's input shape)."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).max(1).values[:, None] / 2
    return torch.cat([centre - half, centre + half], 1)


def _crops(x: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    """Each box's pixels (zero outside the image), resampled to size x size by area averaging."""
    _, _, h, w = x.shape
    out = []
    for x1, y1, x2, y2 in boxes.round().long().tolist():
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        patch = x.new_zeros(1, 3, y2 - y1, x2 - x1)
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if sx2 > sx1 and sy2 > sy1:
            patch[:, :, sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = x[:, :, sy1:sy2, sx1:sx2]
        out.append(F.interpolate(patch, size=(size, size), mode="area"))
    return torch.cat(out) if out else x.new_zeros(0, 3, size, size)


def pyramid_scales(height: int, width: int, min_face: int = MIN_FACE, factor: float = FACTOR) -> list[float]:
    """The pyramid's scales: a min_face face becomes P-Net's 12 px window at the first one."""
    scale = 12.0 / min_face
    side = min(height, width) * scale
    scales = []
    while side >= 12:
        scales.append(scale)
        scale *= factor
        side *= factor
    return scales


class MTCNN(nn.Module):
    """The three nets, keys ``pnet.*``, ``rnet.*``, ``onet.*``, and the cascade that runs them."""

    def __init__(self) -> None:
        super().__init__()
        self.pnet, self.rnet, self.onet = PNet(), RNet(), ONet()

    @torch.no_grad()
    def detect(
        self,
        image: torch.Tensor,
        min_face: int = MIN_FACE,
        thresholds: tuple[float, float, float] = THRESHOLDS,
    ) -> Faces:
        """Faces in ``image`` (1 x 3 x H x W, RGB floats in 0-1), best score first."""
        param = next(self.parameters())
        x = ((image[:1, :3] * 255 - 127.5) / 128).to(param.device, param.dtype)
        _, _, h, w = x.shape
        empty = Faces(x.new_zeros(0, 4), x.new_zeros(0), x.new_zeros(0, 5, 2))

        # Stage 1: P-Net over the pyramid; per scale NMS 0.5, then 0.7 across scales.
        found = []
        for s in pyramid_scales(h, w, min_face):
            size = (max(int(h * s + 1), 12), max(int(w * s + 1), 12))
            offsets, prob = self.pnet(F.interpolate(x, size=size, mode="area"))
            ys, xs = torch.nonzero(prob[0, 1] > thresholds[0], as_tuple=True)
            if len(ys) == 0:
                continue
            cells = torch.stack([xs, ys, xs, ys], 1).to(x.dtype) * 2
            boxes = (cells + x.new_tensor([0, 0, 12, 12])) / s
            scores = prob[0, 1, ys, xs]
            reg = offsets[0, :, ys, xs].T
            keep = nms(boxes, scores, 0.5)
            found.append((boxes[keep], scores[keep], reg[keep]))
        if not found:
            return empty
        boxes, scores, reg = (torch.cat(t) for t in zip(*found))
        keep = nms(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))

        # Stage 2: R-Net on 24x24 crops.
        reg, prob = self.rnet(_crops(x, boxes, 24))
        mask = prob[:, 1] > thresholds[1]
        boxes, scores, reg = boxes[mask], prob[mask, 1], reg[mask]
        if len(boxes) == 0:
            return empty
        keep = nms(boxes, scores, 0.7)
        boxes = _square(_regress(boxes[keep], reg[keep]))

        # Stage 3: O-Net on 48x48 crops, with landmarks relative to the box it saw.
        reg, points, prob = self.onet(_crops(x, boxes, 48))
        mask = prob[:, 1] > thresholds[2]
        boxes, scores, reg, points = boxes[mask], prob[mask, 1], reg[mask], points[mask]
        if len(boxes) == 0:
            return empty
        wh = boxes[:, 2:] - boxes[:, :2]
        landmarks = torch.stack([points[:, :5], points[:, 5:]], 2) * wh[:, None] + boxes[:, None, :2]
        boxes = _regress(boxes, reg)
        keep = nms(boxes, scores, 0.7, mode="min")
        return Faces(boxes[keep].float().cpu(), scores[keep].float().cpu(), landmarks[keep].float().cpu())
