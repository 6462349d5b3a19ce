"""The optional detectors: OpenCV's Haar cascade (Debian opencv-data, evaluated by our own numpy
code), scikit-image's LBP cascade, both with MTCNN's O-Net for the 5 landmarks; dlib only when
installed. Checked on the astronaut's face against the hand-checked points convert's tests use."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from genedit_faceswap import detectors
from genedit_faceswap.detectors import _merge, detect, haar_cascade_path

from genedit_core.sdk import GeneditWarning, UsageError, load

# The astronaut's landmarks at 256x256 (as in test_faceswap_convert), in the crop taken below.
POINTS = torch.tensor(
    [[101.2, 50.1], [123.0, 51.1], [112.1, 63.7], [100.4, 70.1], [122.2, 70.4]]
) - torch.tensor([50.0, 0.0])


@pytest.fixture(scope="module")
def mtcnn():
    return load("mtcnn", device="cpu").module


@pytest.fixture(scope="module")
def face(astronaut_256):
    return astronaut_256[..., :128, 50:178].contiguous()  # the face and some suit, 128 px square


def _check(faces):
    assert len(faces) == 1
    iod = float((POINTS[1] - POINTS[0]).norm())
    assert (faces.landmarks[0] - POINTS).norm(dim=1).max() < 0.15 * iod
    x1, y1, x2, y2 = faces.boxes[0].tolist()
    assert (
        x1 < POINTS[:, 0].min()
        and x2 > POINTS[:, 0].max()
        and y1 < POINTS[:, 1].min()
        and y2 > POINTS[:, 1].max()
    )


@pytest.mark.skipif(haar_cascade_path() is None, reason="Debian's opencv-data is not installed")
def test_haar_cascade_finds_the_face_and_onet_places_the_landmarks(face, mtcnn):
    _check(detect(face, mtcnn, "haar", min_face=36))
    assert len(detect(torch.full((1, 3, 64, 80), 0.5), mtcnn, "haar")) == 0


def test_lbp_cascade_finds_the_face(face, mtcnn):
    pytest.importorskip("skimage")
    _check(detect(face, mtcnn, "lbp", min_face=36))


def test_without_opencv_data_haar_falls_back_to_lbp_and_says_how_to_install(face, mtcnn, monkeypatch):
    monkeypatch.setattr(detectors, "HAAR_FOLDERS", ())
    with pytest.warns(GeneditWarning, match="apt-get install opencv-data"):
        _check(detect(face, mtcnn, "haar", min_face=36))


def test_single_cascade_hits_are_dropped_and_neighbours_averaged():
    boxes = torch.tensor([[10.0, 10, 50, 50], [12, 10, 52, 50], [10, 12, 50, 52], [200, 200, 230, 230]])
    merged = _merge(boxes)
    assert merged.shape == (1, 4) and torch.allclose(merged[0], boxes[:3].mean(0))


@pytest.mark.skipif(importlib.util.find_spec("dlib") is not None, reason="dlib is installed")
def test_dlib_without_dlib_is_one_line_naming_the_install_and_the_licence(cli, flat_png, tmp_path, mtcnn):
    with pytest.raises(UsageError, match="non-commercial"):
        detect(torch.rand(1, 3, 32, 32), mtcnn, "dlib")
    code, _, err = cli("faceswap", "extract", flat_png, "--out", str(tmp_path / "f"), "--detector", "dlib")
    assert code == 2 and "pip install dlib" in err and "Traceback" not in err
