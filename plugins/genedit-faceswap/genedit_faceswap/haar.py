"""Viola-Jones Haar cascades in numpy, read from OpenCV's XML files (Debian's ``opencv-data``).

Why our own: the OpenCV wheels genedit's other plugins install (5.x) no longer carry
``CascadeClassifier``, and the cascade files are plain data. This evaluates the stump-based,
upright-feature cascades (``haarcascade_frontalface_default.xml`` and the like) the way OpenCV's
image-pyramid evaluator does: a fixed window slid over a pyramid of the image, each window's
features normalised by its standard deviation (over the window less a 1-pixel border), stages
rejecting windows early. All windows of one scale are evaluated at once.
"""

from __future__ import annotations

import functools
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genedit_core.sdk import UsageError


def _numbers(node: ET.Element | None) -> list[float]:
    return [float(v) for v in (node.text or "").split()] if node is not None else []


@dataclass
class Stage:
    threshold: float
    features: np.ndarray  # K: feature index of each stump
    thresholds: np.ndarray  # K
    leaves: np.ndarray  # K×2: value when below, when not


class HaarCascade:
    """One cascade: window size, stages, and each feature's rectangles (x, y, w, h, weight)."""

    def __init__(self, width: int, height: int, stages: list[Stage], rects: list[np.ndarray]):
        self.width, self.height, self.stages, self.rects = width, height, stages, rects

    @classmethod
    @functools.lru_cache(maxsize=4)
    def load(cls, path: str | Path) -> HaarCascade:
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as exc:
            raise UsageError(f"{path}: cannot read this cascade ({exc})") from None
        node = root.find("cascade")
        if node is None or (node.findtext("featureType") or "").strip() != "HAAR":
            raise UsageError(f"{path}: not an OpenCV Haar cascade (new format)")
        stages = []
        for s in node.find("stages") or []:
            weak = [
                (_numbers(w.find("internalNodes")), _numbers(w.find("leafValues")))
                for w in s.find("weakClassifiers") or []
            ]
            if any(len(n) != 4 for n, _ in weak):
                raise UsageError(f"{path}: tree-based cascades are not supported (stumps only)")
            stages.append(
                Stage(
                    float(s.findtext("stageThreshold") or 0),
                    np.array([int(n[2]) for n, _ in weak]),
                    np.array([n[3] for n, _ in weak]),
                    np.array([leaf for _, leaf in weak]),
                )
            )
        rects = []
        for f in node.find("features") or []:
            if (f.findtext("tilted") or "0").strip() == "1":
                raise UsageError(f"{path}: tilted features are not supported")
            rects.append(np.array([_numbers(r) for r in f.find("rects") or []]))
        return cls(int(node.findtext("width") or 0), int(node.findtext("height") or 0), stages, rects)

    def windows(self, grey: np.ndarray, step: int = 2) -> np.ndarray:
        """Top-left corners (N×2, x and y) of the ``grey`` (0-255) windows every stage accepts."""
        h, w = grey.shape
        if h < self.height or w < self.width:
            return np.zeros((0, 2), int)
        ii = np.pad(grey.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        sq = np.pad(grey.astype(np.float64) ** 2, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
        ys, xs = np.meshgrid(
            np.arange(0, h - self.height + 1, step), np.arange(0, w - self.width + 1, step), indexing="ij"
        )
        x, y = xs.ravel(), ys.ravel()

        def box(table: np.ndarray, rx, ry, rw, rh) -> np.ndarray:
            x0, y0 = x + int(rx), y + int(ry)
            return (
                table[y0 + int(rh), x0 + int(rw)]
                - table[y0, x0 + int(rw)]
                - table[y0 + int(rh), x0]
                + table[y0, x0]
            )

        area = (self.width - 2) * (self.height - 2)
        total, squares = (
            box(ii, 1, 1, self.width - 2, self.height - 2),
            box(sq, 1, 1, self.width - 2, self.height - 2),
        )
        norm = area * squares - total**2
        norm = np.where(norm > 0, np.sqrt(np.maximum(norm, 0)), 1.0)
        for stage in self.stages:
            score = np.zeros(len(x))
            for f, t, leaf in zip(stage.features, stage.thresholds, stage.leaves):
                value = sum(r[4] * box(ii, *r[:4]) for r in self.rects[f])
                score += np.where(value < t * norm, leaf[0], leaf[1])
            keep = score >= stage.threshold
            x, y, norm = x[keep], y[keep], norm[keep]
            if len(x) == 0:
                break
        return np.stack([x, y], 1)

    def detect(self, grey: np.ndarray, min_size: int = 20, factor: float = 1.1) -> torch.Tensor:
        """Every accepted window (x1, y1, x2, y2, in ``grey``'s pixels) over a pyramid of scales,
        from windows of ``min_size`` pixels up to the image's size; overlapping hits not merged."""
        h, w = grey.shape
        image = torch.from_numpy(np.ascontiguousarray(grey, dtype=np.float32) * 255)[None, None]
        scale = max(min_size / self.width, 1.0)
        found = []
        while h / scale >= self.height and w / scale >= self.width:
            size = (int(h / scale), int(w / scale))
            small = image if scale == 1 else F.interpolate(image, size=size, mode="area")
            hits = self.windows(small[0, 0].numpy())
            for cx, cy in hits:
                found.append([cx * scale, cy * scale, (cx + self.width) * scale, (cy + self.height) * scale])
            scale *= factor
        return torch.tensor(found, dtype=torch.float32).reshape(-1, 4)
