"""The classical baselines: they really denoise and fill, keep what they must, and refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from genedit_restore.classical import denoise_array, inpaint_array
from genedit_restore.params import estimate_sigma, hole_from, parse_sigma
from PIL import Image

from genedit_core.sdk import ImageError, UsageError, psnr


def _noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma / 255, img.shape), 0, 1)


@pytest.mark.parametrize("method", ["nlmeans", "wavelet", "tv"])
def test_each_denoiser_removes_most_of_the_noise(photo, method):
    noisy = _noisy(photo, 25)
    before = psnr(noisy, photo)
    after = psnr(denoise_array(method, noisy, 25.0), photo)
    assert after > before + 3.0, (method, before, after)


def test_sigma_zero_is_the_identity(photo):
    assert np.array_equal(denoise_array("nlmeans", photo, 0.0), photo)


def test_sigma_option_parsing():
    assert parse_sigma({}) is None
    assert parse_sigma({"sigma": "AUTO"}) is None
    assert parse_sigma({"sigma": "25"}) == 25.0
    for bad in ("-1", "256", "nan", "loud"):
        with pytest.raises(UsageError, match="--sigma"):
            parse_sigma({"sigma": bad})


def test_noise_estimate_is_close_to_the_added_noise(photo):
    assert abs(estimate_sigma(_noisy(photo, 25)) - 25) < 5
    assert estimate_sigma(photo) < 8


@pytest.mark.parametrize("method", ["telea", "navier-stokes", "biharmonic"])
def test_inpainting_fills_the_hole_and_keeps_the_rest(photo, method):
    hole = np.zeros(photo.shape[:2], bool)
    hole[20:32, 30:46] = True
    damaged = photo.copy()
    damaged[hole] = 0.0
    out = inpaint_array(method, damaged, hole)
    assert np.array_equal(out[~hole], damaged[~hole])  # bit-identical outside the hole
    err_filled = np.abs(out[hole] - photo[hole]).mean()
    err_black = np.abs(damaged[hole] - photo[hole]).mean()
    assert err_filled < 0.35 * err_black, (method, err_filled, err_black)


def test_a_full_mask_is_refused(photo):
    with pytest.raises(ImageError, match="every pixel"):
        inpaint_array("biharmonic", photo, np.ones(photo.shape[:2], bool))


def test_mask_files_sizes_and_levels(tmp_path):
    m = np.zeros((6, 8), np.uint8)
    m[2:4, 3:6] = 255
    Image.fromarray(m).save(tmp_path / "m.png")
    Image.fromarray(m.astype(np.uint16) * 257).save(tmp_path / "m16.png")  # 16-bit grey
    for name in ("m.png", "m16.png"):
        hole = hole_from({"mask": str(tmp_path / name)}, None, (6, 8))
        assert hole.sum() == 6 and hole[2:4, 3:6].all()
    with pytest.raises(ImageError, match=r"8×6, the image 9×6"):
        hole_from({"mask": str(tmp_path / "m.png")}, None, (6, 9))
    with pytest.raises(UsageError, match="no such file"):
        hole_from({"mask": str(tmp_path / "missing.png")}, None, (6, 8))
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(UsageError, match="junk.png: not an image"):
        hole_from({"mask": str(tmp_path / "junk.png")}, None, (6, 8))
    alpha = torch.ones(1, 1, 6, 8)
    alpha[..., 0, 0] = 0
    assert hole_from({}, alpha, (6, 8)).sum() == 1  # transparent pixels are the hole
    assert not hole_from({}, None, (6, 8)).any()


def test_random_masks_are_seeded_and_cover_what_they_say():
    from genedit_restore.masks import random_mask

    a = random_mask(96, 128, np.random.default_rng([0, 3]), (0.1, 0.3))
    b = random_mask(96, 128, np.random.default_rng([0, 3]), (0.1, 0.3))
    assert np.array_equal(a, b)
    for seed in range(5):
        m = random_mask(96, 128, np.random.default_rng(seed), (0.1, 0.3))
        assert 0.1 <= m.mean() <= 0.45  # drawn until the target is reached; the last stroke may overshoot


def test_eval_inpaint_scores_the_hole(restore_plugins, photo):
    from genedit_restore.evaluation import evaluate_inpainter

    import genedit_core

    model = genedit_core.load("telea", device="cpu")
    refs = [("crop", torch.from_numpy(photo.transpose(2, 0, 1)).float())]
    good = evaluate_inpainter(lambda x, hole: model.module(x, hole), refs)["summary"]
    grey = evaluate_inpainter(lambda x, hole: x, refs)["summary"]  # the hole left mid-grey
    assert good["psnr_hole"] > grey["psnr_hole"] + 3 and good["psnr"] > grey["psnr"]


def _one_photo_folder(tmp_path, photo):
    folder = tmp_path / "refs"
    folder.mkdir()
    Image.fromarray((photo * 255).round().astype(np.uint8)).save(folder / "astronaut.png")
    return folder


def test_eval_denoise_takes_the_noise_levels_from_sigma(cli, tmp_path, photo):
    """--sigma picks the levels of the table (default 15,25,50); each is a column pair."""
    import json

    refs = _one_photo_folder(tmp_path, photo)
    code, out, err = cli("eval", "denoise", "-m", "tv", "--data", str(refs), "--sigma", "10,40", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["columns"] == ["image", "psnr_10", "ssim_10", "psnr_40", "ssim_40"]
    assert report["rows"][0]["psnr_10"] > report["rows"][0]["psnr_40"]  # more noise, lower PSNR


@pytest.mark.parametrize(("task", "args"), [("denoise", ["--sigma", "300"]), ("denoise", ["--sigma", "a,b"]),
                                            ("inpaint", ["--coverage", "30-10"]), ("denoise", ["--sigmas", "5"])])  # fmt: skip
def test_eval_refuses_bad_levels_in_one_line(cli, tmp_path, photo, task, args):
    refs = _one_photo_folder(tmp_path, photo)
    model = "tv" if task == "denoise" else "telea"
    code, out, err = cli("eval", task, "-m", model, "--data", str(refs), *args)
    assert code == 2 and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and args[0] in err
