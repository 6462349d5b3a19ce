"""Metric maths against scikit-image, datasets and their command (the SR train -> run -> eval round trip
through the CLI is genedit-sr's: plugins/genedit-sr/tests/test_sr_train_run_eval.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import run_cli
from PIL import Image

from genedit_core.errors import UsageError
from genedit_core.metrics import psnr, rgb_to_y, sr_metrics, ssim
from genedit_core.training.data import ImageFolder, random_patch, reference_images, resolve_data


def test_psnr_ssim_match_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    rng = np.random.default_rng(0)
    a = rng.uniform(0, 255, (40, 52))
    b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255)
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)
    ref = structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ssim(a, b) == pytest.approx(ref, abs=1e-9)
    assert psnr(a, a) == float("inf") and ssim(a, a) == pytest.approx(1.0)


def test_y_channel_is_bt601_and_border_is_cropped():
    white = np.full((4, 4, 3), 255.0)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0, abs=0.01)
    assert rgb_to_y(np.zeros((1, 1, 3)))[0, 0] == pytest.approx(16.0)
    ref = np.random.default_rng(1).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    out = ref.copy()
    out[:2] = 0  # damage only inside the 2-pixel border: invisible at scale 2
    assert sr_metrics(out, ref, 2)[0] == float("inf")
    out[5, 5] = 0
    assert sr_metrics(out, ref, 2)[0] < 60


def test_image_folder_skips_bad_files_with_warning(tmp_path, caplog):
    Image.new("RGB", (8, 6), (255, 0, 0)).save(tmp_path / "a.png")
    (tmp_path / "sub").mkdir()
    Image.new("L", (5, 5), 128).save(tmp_path / "sub" / "b.jpg")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with caplog.at_level("WARNING", logger="genedit"):
        ds = ImageFolder(tmp_path)
    assert sorted(ds.names) == ["a.png", "sub/b.jpg"]
    assert ds.skipped == [str(tmp_path / "broken.png")]
    assert "broken.png" in caplog.text
    assert ds[ds.names.index("sub/b.jpg")].shape == (3, 5, 5)


def test_builtin_digits_have_labels_and_heldout_split():
    train, held = resolve_data("builtin:digits"), resolve_data("builtin:digits:heldout")
    assert len(train) + len(held) == 1797 and len(held) == 297
    img, label = train[0]
    assert img.shape == (1, 32, 32) and 0 <= label <= 9 and float(img.max()) <= 1.0


def test_reference_images_are_rgb_centre_cropped_and_optionally_8_bit(monkeypatch):
    import genedit_core.training.data as data

    g = torch.Generator().manual_seed(0)
    grey, rgba = torch.rand(1, 6, 9, generator=g), torch.rand(4, 6, 9, generator=g)
    monkeypatch.setattr(data, "resolve_data", lambda spec: data.ArrayImages([grey, rgba], names=["g", "a"]))
    raw = reference_images("any")
    assert [n for n, _ in raw] == ["g", "a"] and all(r.shape == (3, 6, 9) for _, r in raw)
    assert torch.equal(raw[0][1], grey.expand(3, -1, -1)) and torch.equal(raw[1][1], rgba[:3])
    rounded = reference_images("any", 4, eight_bit=True)  # centre 4×4, on 8-bit levels
    assert torch.equal(rounded[1][1], (rgba[:3, 1:5, 2:6] * 255).round() / 255)
    assert not torch.equal(rounded[1][1], rgba[:3, 1:5, 2:6])
    monkeypatch.setattr(data, "resolve_data", lambda spec: data.ArrayImages([]))
    with pytest.raises(UsageError, match="--data any: no reference images"):
        reference_images("any")


def test_random_patch_is_seeded_area_weighted_and_one_of_eight_flips():
    big = torch.arange(2 * 8 * 8, dtype=torch.float32).view(2, 8, 8)
    small = torch.full((2, 4, 4), -1.0)
    weights = torch.tensor([64.0, 16.0]) / 80
    draws = [random_patch([big, small], weights, 4, torch.Generator().manual_seed(s)) for s in range(60)]
    again = [random_patch([big, small], weights, 4, torch.Generator().manual_seed(s)) for s in range(60)]
    assert all(torch.equal(a, b) and a.shape == (2, 4, 4) and a.is_contiguous() for a, b in zip(draws, again))
    from_big = [d for d in draws if d.min() >= 0]
    assert 35 <= len(from_big) <= 58  # 80% expected from the larger image
    windows = [big[:, y : y + 4, x : x + 4] for y in range(5) for x in range(5)]
    variants = [
        v
        for w in windows
        for t in (w, w.transpose(-1, -2))
        for v in (t, t.flip(-1), t.flip(-2), t.flip(-1).flip(-2))
    ]
    assert all(any(torch.equal(d, v) for v in variants) for d in from_big)
    plain = [
        random_patch([big], torch.ones(1), 4, torch.Generator().manual_seed(s), flips=False)
        for s in range(20)
    ]
    assert all(any(torch.equal(p, w) for w in windows) for p in plain)
    assert any(not any(torch.equal(d, w) for w in windows) for d in from_big)  # flips do happen


def test_datasets_command_lists_licences():
    res = run_cli("datasets", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {"builtin:digits", "builtin:skimage-photos", "builtin:skimage-photos:heldout"} <= set(rows)
    assert "BSD" in rows["builtin:digits"]["licence"]


def test_paired_folders_match_by_relative_name(tmp_path):
    from genedit_core.training.data import PairedFolders

    (tmp_path / "noisy" / "sub").mkdir(parents=True)
    (tmp_path / "clean" / "sub").mkdir(parents=True)
    Image.new("RGB", (6, 4), (10, 20, 30)).save(tmp_path / "noisy" / "sub" / "a.png")
    Image.new("RGB", (6, 4), (200, 20, 30)).save(tmp_path / "clean" / "sub" / "a.jpg")
    Image.new("RGB", (6, 4)).save(tmp_path / "noisy" / "orphan.png")
    Image.new("RGB", (6, 4)).save(tmp_path / "clean" / "other.png")
    pairs = PairedFolders(tmp_path / "noisy", tmp_path / "clean")
    assert len(pairs) == 1
    x, y = pairs[0]
    assert x.shape == y.shape == (3, 4, 6)
    assert float(x[0].mean()) == pytest.approx(10 / 255, abs=1e-6) and float(y[0].mean()) > 0.7
    from genedit_core.errors import UsageError

    with pytest.raises(UsageError, match="no files with matching names"):
        PairedFolders(tmp_path / "noisy" / "sub", tmp_path / "clean")
