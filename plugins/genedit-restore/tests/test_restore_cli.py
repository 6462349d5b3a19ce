"""``genedit run denoise`` / ``inpaint`` end to end, in-process: options, grey and 16-bit inputs, bad input."""

from __future__ import annotations

import numpy as np
from PIL import Image

from genedit_core.sdk import psnr


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


def test_denoise_with_sigma_and_auto(cli, photo, tmp_path):
    rng = np.random.default_rng(1)
    noisy = np.clip(photo + rng.normal(0, 25 / 255, photo.shape), 0, 1)
    src = tmp_path / "noisy.png"
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(src)
    code, _, err = cli("run", "denoise", "-m", "tv", "--sigma", "25", str(src), "-o", str(tmp_path / "a.png"))
    assert code == 0, err
    assert psnr(_png(tmp_path / "a.png") / 255.0, photo) > psnr(noisy, photo) + 3
    code, _, err = cli("run", "denoise", "-m", "wavelet", str(src), "-o", str(tmp_path / "b.png"))
    assert code == 0, err
    assert "estimated noise level σ = " in err  # --sigma auto is the default, and says what it found


def test_bad_options_stop_before_any_work(cli, photo, tmp_path):
    src = tmp_path / "in.png"
    Image.fromarray(np.round(photo * 255).astype(np.uint8)).save(src)
    code, _, err = cli(
        "run", "denoise", "-m", "nlmeans", "--sigma", "300", str(src), "-o", str(tmp_path / "o.png")
    )
    assert code == 2 and "--sigma 300: must be between 0 and 255" in err
    code, _, err = cli(
        "run", "denoise", "-m", "nlmeans", "--sigmaa", "3", str(src), "-o", str(tmp_path / "o.png")
    )
    assert code == 2 and "did you mean --sigma?" in err
    code, _, err = cli(
        "run", "denoise", "-m", "dncnn", "--sigma", "300", str(src), "-o", str(tmp_path / "o.png")
    )
    assert code == 2 and "--sigma 300: must be between 0 and 255" in err  # DnCNN checks it too
    assert not (tmp_path / "o.png").exists()


def test_dncnn_sigma_picks_nothing_but_says_when_the_variant_does_not_suit_it(cli, photo, tmp_path):
    noisy = np.clip(photo + np.random.default_rng(2).normal(0, 25 / 255, photo.shape), 0, 1)
    src = tmp_path / "noisy.png"
    Image.fromarray(np.round(noisy * 255).astype(np.uint8)).save(src)
    code, _, err = cli("run", "denoise", "-m", "dncnn", "--weights", "photos-s25", "--sigma", "25",
                       str(src), "-o", str(tmp_path / "s25.png"))  # fmt: skip
    assert code == 0, err
    assert "trained for" not in err
    assert psnr(_png(tmp_path / "s25.png") / 255.0, photo) > psnr(noisy, photo) + 3
    code, _, err = cli("run", "denoise", "-m", "dncnn", "--weights", "photos-s25", "--sigma", "50",
                       str(src), "-o", str(tmp_path / "s50.png"))  # fmt: skip
    assert code == 0, err
    assert "dncnn:photos-s25" in err and "trained for σ = 25 only, not 50" in err
    # σ is not an input of DnCNN: the output is the same whatever the user says
    assert np.array_equal(_png(tmp_path / "s50.png"), _png(tmp_path / "s25.png"))
    code, _, err = cli(
        "run", "denoise", "-m", "dncnn", "--sigma", "70", str(src), "-o", str(tmp_path / "b.png")
    )
    assert code == 0, err
    assert "trained for σ 0-55, not 70" in err  # the blind default's range


def test_grey_and_16_bit_inputs_keep_their_kind(cli, photo, tmp_path):
    grey = np.round(photo.mean(axis=2) * 255).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "grey.png")
    code, _, err = cli(
        "run",
        "denoise",
        "-m",
        "tv",
        "--sigma",
        "10",
        str(tmp_path / "grey.png"),
        "-o",
        str(tmp_path / "g.png"),
    )
    assert code == 0, err
    assert _png(tmp_path / "g.png").ndim == 2  # grey in, grey out
    deep = np.round(photo.mean(axis=2) * 65535).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    mask = np.zeros(deep.shape, np.uint8)
    mask[10:20, 10:30] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err = cli("run", "inpaint", "-m", "biharmonic", "--mask", str(tmp_path / "mask.png"),
                       str(tmp_path / "deep.png"), "-o", str(tmp_path / "d.png"))  # fmt: skip
    assert code == 0, err
    out = _png(tmp_path / "d.png")
    assert out.dtype == np.uint16
    assert np.array_equal(out[mask == 0], deep[mask == 0])  # 16-bit precision kept outside the hole


def test_inpaint_masks_from_file_and_from_alpha(cli, photo, tmp_path):
    rgb = np.round(photo * 255).astype(np.uint8)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    mask[20:30, 30:50] = 255
    Image.fromarray(rgb).save(tmp_path / "in.png")
    Image.fromarray(mask).save(tmp_path / "mask.png")
    Image.fromarray(mask[:, :-1]).save(tmp_path / "small.png")
    code, _, err = cli("run", "inpaint", "-m", "telea", "--mask", str(tmp_path / "mask.png"), str(tmp_path / "in.png"),
                       "-o", str(tmp_path / "t.png"))  # fmt: skip
    assert code == 0, err
    out = _png(tmp_path / "t.png")
    assert np.array_equal(out[mask == 0], rgb[mask == 0])
    code, _, err = cli("run", "inpaint", "-m", "telea", "--mask", str(tmp_path / "small.png"), str(tmp_path / "in.png"),
                       "-o", str(tmp_path / "s.png"))  # fmt: skip
    assert code == 1 and "is 79×64, the image 80×64: they must be the same size" in err
    code, _, err = cli(
        "run", "inpaint", "-m", "navier-stokes", str(tmp_path / "in.png"), "-o", str(tmp_path / "e.png")
    )
    assert code == 0 and "the hole is empty" in err
    assert np.array_equal(_png(tmp_path / "e.png"), rgb)
    rgba = np.dstack([rgb, np.where(mask > 0, 0, 255).astype(np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "holes.png")
    code, _, err = cli(
        "run", "inpaint", "-m", "biharmonic", str(tmp_path / "holes.png"), "-o", str(tmp_path / "h.png")
    )
    assert code == 0, err
    out = _png(tmp_path / "h.png")
    assert out.shape[2] == 4 and (out[..., 3] == 255).all()  # the transparent hole is filled: opaque
    assert np.array_equal(out[mask == 0][:, :3], rgb[mask == 0])
    assert np.abs(out[mask > 0][:, :3].astype(int) - rgb[mask > 0]).mean() < 40
