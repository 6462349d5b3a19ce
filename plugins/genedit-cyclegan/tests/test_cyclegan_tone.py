"""The synthetic tone pair: domains that never share a crop, and a mapping whose truth is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from genedit_cyclegan.tone import (
    GAMMA,
    LEVEL_MEAN,
    LEVEL_STD,
    MIX,
    OFFSET,
    crops,
    level,
    photos,
    psnr,
    tone,
    write_pair,
)
from PIL import Image


def test_tone_is_the_stated_channel_mix_offset_and_gamma():
    x = torch.rand(2, 3, 4, 5)
    expected = (torch.einsum("oc,nchw->nohw", MIX, x) + OFFSET.view(3, 1, 1)).clamp(0, 1) ** GAMMA
    assert torch.allclose(tone(x), expected)
    assert torch.allclose(tone(torch.zeros(3, 1, 1)).flatten(), OFFSET**GAMMA)
    assert psnr(x, x) == 99.0 and 5 < psnr(x, tone(x)) < 40


def test_photos_share_one_exposure_whatever_their_gain_and_offset():
    """The generator cannot see a global gain or channel offset, so domain A's photographs are levelled:
    the same photo darker, brighter or tinted gives the same levelled image."""
    for img in photos("heldout", 64):
        stats = img.flatten(1)
        assert torch.allclose(stats.mean(1), torch.full((3,), LEVEL_MEAN), atol=0.03)
        assert torch.allclose(stats.std(1), torch.full((3,), LEVEL_STD), atol=0.03)
    x = 0.1 + 0.3 * torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))  # a dark photo
    shifted = 0.5 * x + torch.tensor([0.1, 0.0, 0.2]).view(3, 1, 1)
    assert torch.allclose(level(shifted), level(x), atol=1e-4)
    assert (level(x).mean() - x.mean()).abs() > 0.1  # brought up to the common exposure


def test_pair_domains_never_share_a_crop(tmp_path):
    a, b = write_pair(tmp_path, n=12, size=16, max_side=48, seed=3)
    pool = crops(photos("train", 48), 12, 16, 3)
    order = torch.randperm(12, generator=torch.Generator().manual_seed(4)).tolist()

    def read(folder):
        return [torch.from_numpy(np.asarray(Image.open(p), dtype=np.float32) / 255).permute(2, 0, 1)
                for p in sorted(folder.iterdir())]  # fmt: skip

    got_a, got_b = read(a), read(b)
    assert len(got_a) == len(got_b) == 6
    for img, i in zip(got_a, order[:6]):  # A: its crops as they are
        assert (img - pool[i]).abs().max() <= 0.5 / 255 + 1e-6
    for img, i in zip(got_b, order[6:]):  # B: the other crops, toned
        assert (img - tone(pool[i])).abs().max() <= 0.5 / 255 + 1e-6
    assert not set(order[:6]) & set(order[6:])


def test_pair_train_report_pipeline_at_test_size(tmp_path):
    """The synthetic experiment end to end, tiny: make the pair, train through genedit's trainer,
    score with benchmarks/cyclegan_report.py; its gains are its PSNRs minus the identity's."""
    import importlib.util

    from genedit_cyclegan.training import CycleGANTask

    from genedit_core.training.config import load_config
    from genedit_core.training.trainer import Trainer

    a, b = write_pair(tmp_path / "pair", n=8, size=32, max_side=64)
    sets = ["model.ngf=4", "model.ndf=4", "model.n_blocks=1", "model.n_layers_d=2", "data.crop=16",
            "data.load_size=0", "loss.pool=2", "train.batch_size=2", "train.steps=2", "train.device=cpu",
            f"data.a={a}", f"data.b={b}"]  # fmt: skip
    task = CycleGANTask()
    run = Trainer(task, load_config(task.default_config, None, sets), tmp_path / "run", quiet=True).fit()

    root = Path(__file__).resolve().parents[3]
    spec = importlib.util.spec_from_file_location("cyclegan_report", root / "benchmarks/cyclegan_report.py")
    report_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report_module)
    report = report_module.measure(str(run))
    assert [r["image"] for r in report["rows"]] == ["astronaut", "camera", "chelsea", "coffee", "coins"]
    x = photos("heldout")[2]  # chelsea, cropped to a multiple of 4 as the report does
    x = x[None, :, : x.shape[1] - x.shape[1] % 4, : x.shape[2] - x.shape[2] % 4]
    row = report["rows"][2]
    assert row["a2b_gain"] == pytest.approx(row["a2b"] - psnr(x, tone(x)), abs=1e-6)
    assert row["b2a_gain"] == pytest.approx(row["b2a"] - psnr(tone(x), x), abs=1e-6)
    assert -1 <= report["min_corr"] <= 1 and report["spread"] > 0
