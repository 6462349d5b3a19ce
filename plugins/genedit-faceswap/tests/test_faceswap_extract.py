"""Alignment (Umeyama, the warp) and extraction end to end: ``genedit faceswap extract`` and
``genedit run extract -m mtcnn``, with the astronaut photograph and a picture without a face."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from genedit_faceswap.align import template, umeyama, warp
from PIL import Image

# Hand-checked on skimage.data.astronaut(): the face and its eyes, nose tip and mouth corners.
FACE = (180, 65, 265, 175)
LANDMARKS = np.array([[203, 101], [247, 102], [225, 126], [205, 143], [243, 142]], float)


def test_umeyama_recovers_a_similarity():
    src = torch.tensor([[10.0, 20], [40, 22], [25, 35], [12, 50], [38, 52]])
    angle, scale, shift = 0.3, 1.7, torch.tensor([5.0, -8.0])
    rot = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = umeyama(src, dst)
    assert torch.allclose(m[:, :2], scale * rot, atol=1e-4)
    assert torch.allclose(m[:, 2], shift, atol=1e-3)
    # A mirror is no similarity: the best fit keeps the orientation, so it cannot match exactly.
    mirrored = dst * torch.tensor([-1.0, 1.0])
    m = umeyama(src, mirrored)
    assert torch.det(m[:, :2]) > 0


def test_warp_samples_where_the_transform_says():
    image = torch.rand(1, 3, 30, 40)
    shift = torch.tensor([[1.0, 0, -7], [0, 1, -5]])  # crop pixel (x, y) shows image pixel (x+7, y+5)
    assert torch.allclose(warp(image, shift, 12), image[:, :, 5:17, 7:19], atol=1e-5)
    half = torch.tensor([[0.5, 0, 0], [0, 0.5, 0]])  # half size: each crop pixel averages a 2x2 block
    pooled = torch.nn.functional.avg_pool2d(image, 2)[:, :, :10, :10]
    assert torch.allclose(warp(image, half, 10), pooled, atol=1e-5)


def test_template_padding_shrinks_towards_the_centre():
    tight, padded = template(128, 0.0), template(128, 0.5)
    assert torch.allclose(padded - 64, (tight - 64) / 2, atol=1e-4)
    assert (tight[1, 0] - tight[0, 0]) == pytest.approx(128 * (73.5318 - 38.2946) / 112, rel=1e-5)


def test_extract_command_writes_aligned_crops_and_a_record(cli, astronaut_png, flat_png, tmp_path):
    out = tmp_path / "faces_A"
    code, stdout, err = cli(
        "faceswap",
        "extract",
        astronaut_png,
        flat_png,
        "--out",
        str(out),
        "--size",
        "64",
        "--min-face",
        "60",
        "-q",
    )
    assert code == 0, err
    assert "1 face(s) from 1 picture(s)" in stdout and "(1 without a face)" in stdout
    assert f"skipped {flat_png}: no face found" in err
    record = json.loads((out / "faces.json").read_text())
    assert [s["source"] for s in record["skipped"]] == [flat_png]
    (face,) = record["faces"]
    assert face["crop"] == "astronaut_00.png" and face["source"] == astronaut_png
    with Image.open(out / face["crop"]) as im:
        assert im.size == (64, 64)
    x1, y1, x2, y2 = face["box"]
    inter = max(0, min(x2, FACE[2]) - max(x1, FACE[0])) * max(0, min(y2, FACE[3]) - max(y1, FACE[1]))
    union = (x2 - x1) * (y2 - y1) + (FACE[2] - FACE[0]) * (FACE[3] - FACE[1]) - inter
    assert inter / union > 0.6
    points = np.array(face["landmarks"])
    assert ((points >= [x1, y1]) & (points <= [x2, y2])).all()
    assert np.linalg.norm(points - LANDMARKS, axis=1).max() < 0.15 * 44
    # The recorded transform takes the landmarks onto the template (a near-frontal face: within 2 px).
    m = np.array(face["transform"])
    mapped = points @ m[:, :2].T + m[:, 2]
    assert np.abs(mapped - np.array(record["template"])).max() < 2.0
    # Nothing is replaced: a second extract into the same folder is refused before any work.
    code, _, err = cli("faceswap", "extract", astronaut_png, "--out", str(out))
    assert code == 2 and "faces.json: exists" in err


def test_no_face_anywhere_is_one_line(cli, flat_png, tmp_path):
    code, _, err = cli("faceswap", "extract", flat_png, "--out", str(tmp_path / "f"), "-q")
    assert code == 1
    assert err.strip().splitlines() == ["error: no face found in 1 picture(s) from 1 input(s)"]
    assert "Traceback" not in err
    code, _, err = cli("faceswap", "extract", str(tmp_path / "missing.png"), "--out", str(tmp_path / "g"))
    assert code == 2 and "missing.png: no such file or folder" in err


def test_run_extract_writes_the_crop_and_names_a_faceless_file(cli, flat_png, tmp_path):
    code, _, err = cli("run", "extract", "-m", "mtcnn", flat_png, "--size", "64", "--out-dir", str(tmp_path))
    assert code == 1
    assert f"error: {flat_png}: no face found (smallest face looked for: 20 px; try --min-face 12)" in err
    assert "Traceback" not in err
    code, _, err = cli("run", "extract", "-m", "mtcnn", flat_png, "--size", "8")
    assert code == 2 and "--size 8" in err
