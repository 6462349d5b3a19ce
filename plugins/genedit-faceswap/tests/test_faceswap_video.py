"""Video through imageio-ffmpeg: extract reads every frame, convert writes the frames back at the
source's frame rate with the synthetic mark in the container; undecodable videos and faceless
inputs are one line each, with nothing left behind."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from genedit_faceswap.autoencoder import FaceSwapAE
from genedit_faceswap.video import open_video, read_comment, write_video
from safetensors.torch import save_file

pytest.importorskip("imageio_ffmpeg")


@pytest.fixture(scope="module")
def clip(astronaut_256, tmp_path_factory):
    """3 frames of the astronaut then 1 grey frame, at 7.5 frames per second."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    frames = [astronaut_256] * 3 + [torch.full_like(astronaut_256, 0.5)]
    assert write_video(path, frames, 7.5) == 4
    return path


@pytest.fixture(scope="module")
def swapper(tmp_path_factory):
    folder = tmp_path_factory.mktemp("swapper")
    torch.manual_seed(3)
    save_file(FaceSwapAE(width=4, code=8).state_dict(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"size": 32}))
    return folder


def test_extract_reads_every_frame_of_a_video(cli, clip, tmp_path):
    out = tmp_path / "faces"
    code, stdout, err = cli(
        "faceswap", "extract", str(clip), "--out", str(out), "--size", "32", "--min-face", "30", "-q"
    )
    assert code == 0, err
    assert "3 face(s) from 3 picture(s)" in stdout and "(1 without a face)" in stdout
    record = json.loads((out / "faces.json").read_text())
    assert [f["crop"] for f in record["faces"]] == [f"clip_f{i:06d}_00.png" for i in range(3)]
    assert record["faces"][1]["source"] == f"{clip}#1" and record["skipped"][0]["source"] == f"{clip}#3"


def test_convert_writes_the_video_back_at_its_frame_rate_marked_synthetic(cli, clip, swapper, tmp_path):
    dest = tmp_path / "out.mp4"
    code, stdout, err = cli(
        "faceswap", "convert", str(clip), "--weights", str(swapper), "-o", str(dest), "--min-face", "30", "-q"
    )
    assert code == 0, err
    assert "4 frame(s) (1 without a face, kept as they were)" in stdout
    info, frames = open_video(dest)
    got = list(frames)
    assert info.fps == pytest.approx(7.5) and info.size == (256, 256) and len(got) == 4
    _, source = open_video(clip)
    src = list(source)
    assert (got[0] - src[0])[..., 40:90, 80:140].abs().mean() > 0.03  # the face was replaced
    assert (got[0] - src[0])[..., 180:, :].abs().mean() < 0.02  # far from it, only the codec's loss
    prov = read_comment(dest)
    assert prov["synthetic"] is True and prov["task"] == "convert" and prov["fps"] == pytest.approx(7.5)
    assert prov["run"]["weights"].startswith(str(swapper)) and prov["input"] == "clip.mp4"


def test_an_undecodable_video_is_one_line_and_leaves_nothing(cli, swapper, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    code, _, err = cli("faceswap", "extract", str(bad), "--out", str(tmp_path / "f"), "-q")
    assert code == 1 and "Traceback" not in err and not (tmp_path / "f").exists()
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"error: no face found in 0 picture(s) from 1 input(s); 1 could not be read ({bad}: cannot decode this video"
        )
    )
    out = tmp_path / "o"
    code, _, err = cli(
        "faceswap", "convert", str(bad), "--weights", str(swapper), "-o", str(out / "x.mp4"), "-q"
    )
    assert code == 1 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and f"{bad}: cannot decode this video" in err
    assert not out.exists() or not any(out.iterdir())


def test_a_folder_without_faces_is_one_line_and_no_output_folder(cli, flat_png, tmp_path):
    folder = tmp_path / "none"
    folder.mkdir()
    shutil.copy(flat_png, folder / "flat.png")
    code, _, err = cli("faceswap", "extract", str(folder), "--out", str(tmp_path / "f"), "-q")
    assert code == 1 and not (tmp_path / "f").exists()
    assert err.strip().splitlines() == ["error: no face found in 1 picture(s) from 1 input(s)"]
