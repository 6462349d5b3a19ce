"""The synthetic tone pair: domains that never share a crop, and a mapping whose truth is known."""

from __future__ import annotations

import numpy as np
import torch
from genedit_cyclegan.tone import GAMMA, MIX, OFFSET, crops, photos, psnr, tone, write_pair
from PIL import Image


def test_tone_is_the_stated_channel_mix_offset_and_gamma():
    x = torch.rand(2, 3, 4, 5)
    expected = (torch.einsum("oc,nchw->nohw", MIX, x) + OFFSET.view(3, 1, 1)).clamp(0, 1) ** GAMMA
    assert torch.allclose(tone(x), expected)
    assert torch.allclose(tone(torch.zeros(3, 1, 1)).flatten(), OFFSET**GAMMA)
    assert psnr(x, x) == 99.0 and 5 < psnr(x, tone(x)) < 40


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
