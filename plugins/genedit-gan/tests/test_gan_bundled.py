"""The bundled BigGAN and StyleGAN2 (scripts/train_bundled_gan.py): they load offline as the default
variant, draw 32×32 digits (8×8 upsampled like builtin:digits), BigGAN draws the class it is asked for,
and the DiffAugment option those recipes use reaches D in both training steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from genedit_gan.cards import read_manifest
from genedit_gan.sampling import _generate_images, generate_images
from genedit_gan.training import task_for
from PIL import Image

import genedit_core
from genedit_core.training.config import load_config
from genedit_core.training.context import StepContext

BUNDLED = ("biggan", "stylegan2")


@pytest.fixture(scope="module")
def bundled():
    import genedit_gan.plugin as gan_plugin

    from genedit_core.testing import plugins_installed

    loaded: dict = {}

    def load(name: str):
        if name not in loaded:
            loaded[name] = genedit_core.load(name, device="cpu", dtype="fp32")
        return loaded[name]

    with plugins_installed(gan=gan_plugin):
        yield load


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_weights_are_the_default_and_draw_distinct_32px_digits(bundled, name):
    model = bundled(name)
    entry = read_manifest()[name]
    assert model.weights is not None and model.weights.variant == entry["variant"] == "digits"
    assert model.hyperparameters["output_size"] == 32
    seeds = list(range(16))
    out = generate_images(model, seeds, {})
    assert out.shape == (16, 1, 32, 32)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    flat = out.flatten(1)
    assert float(torch.cdist(flat, flat).fill_diagonal_(1e9).min()) > 0.1  # no two seeds alike
    # the 32×32 image is the native 8×8 sample upsampled as builtin:digits upsamples the real digits
    native = _generate_images(model, seeds, {})
    assert native.shape == (16, 1, 8, 8)
    up = F.interpolate(native, size=(32, 32), mode="bilinear", align_corners=False).clamp(0, 1)
    torch.testing.assert_close(out, up)


def test_bundled_biggan_draws_the_class_it_is_asked_for(bundled):
    """The digit judge reads samples conditioned on class k as k far above chance (10%)."""
    from genedit_gan.evaluation import DigitsExtractor, class_accuracy

    acc = class_accuracy(bundled("biggan"), DigitsExtractor(), per_class=20)
    assert np.mean(acc) > 0.6, acc
    assert sum(a > 0.3 for a in acc) >= 9, acc


def test_bundled_stylegan2_covers_the_digits(bundled):
    """100 unconditional samples are read as at least 8 different digits, none above 35%."""
    from genedit_gan.evaluation import DigitsExtractor

    _, probs = DigitsExtractor()(generate_images(bundled("stylegan2"), list(range(100)), {}))
    counts = np.bincount(probs.argmax(1), minlength=10)
    assert (counts > 0).sum() >= 8 and counts.max() <= 35, counts


@pytest.mark.parametrize("name", BUNDLED)
def test_generate_offline_writes_a_grid_of_the_bundled_model(tmp_path, name):
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "GENEDIT_LOAD_PLUGINS": "gan",
        "NO_COLOR": "1",
        "OMP_NUM_THREADS": "1",
    }
    out = tmp_path / name
    r = subprocess.run(
        [sys.executable, "-m", "genedit_cli", "generate", name, "--seeds", "0-15", "--grid", "--out-dir", str(out),
         "--device", "cpu"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert Image.open(out / "grid.png").size == (4 * 34 + 2, 4 * 34 + 2)  # 16 tiles of 32×32, 2-px borders
    assert len(list(out.glob("seed*.png"))) == 16


# -- DiffAugment in the BigGAN and StyleGAN2 steps --------------------------------------------------
TINY = {
    "biggan": ["model.z_dim=8", "model.embed_dim=4", "model.channel_width=4", "model.num_classes=10",
               "model.d_width=8", "model.g_attention=0", "model.d_attention=1"],
    "stylegan2": ["model.style_dim=8", "model.n_mlp=2", "model.channel_base=64", "model.channel_max=8",
                  "loss.d_reg_every=1", "loss.g_reg_every=1"],
}  # fmt: skip


@pytest.mark.parametrize("name", BUNDLED)
@pytest.mark.parametrize("diffaug", [None, "translation,cutout"])
def test_diffaug_reaches_what_d_sees(name, diffaug):
    """With ``loss.diffaug`` D never sees the real batch as it is; without it, it does."""
    task = task_for(name)
    sets = [*TINY[name], "model.size=8", "model.nc=1", "train.batch_size=8"]
    cfg = load_config(task.default_config, None, sets + ([f"loss.diffaug={diffaug}"] if diffaug else []))
    torch.manual_seed(0)
    nets = task.build_networks(cfg)
    ctx = StepContext(
        nets, nets, task.build_optimizers(nets, cfg), {}, cfg, torch.device("cpu"),
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    g = torch.Generator().manual_seed(1)
    real = torch.rand(8, 1, 8, 8, generator=g) * 2 - 1
    seen: list[torch.Tensor] = []
    hook = nets["d"].register_forward_pre_hook(lambda _m, args: seen.append(args[0].detach().clone()))
    try:
        metrics = task.train_step((real, torch.randint(10, (8,), generator=g)), ctx)
    finally:
        hook.remove()
    assert all(np.isfinite(float(v)) for v in metrics.values())
    matches_real = any(x.shape == real.shape and torch.equal(x, real) for x in seen)
    assert matches_real == (diffaug is None)


def test_output_size_is_exported_by_the_trainer(tmp_path):
    from genedit_core.training.trainer import Trainer

    task = task_for("biggan")
    sets = [*TINY["biggan"], "model.size=8", "model.nc=1", "model.output_size=32", "train.batch_size=8",
            "train.steps=1", "train.ckpt_every=1", "train.log_every=1", "loss.diffaug=translation"]  # fmt: skip
    cfg = load_config(task.default_config, None, sets)
    cfg["data"]["source"] = "builtin:digits"
    Trainer(task, cfg, tmp_path / "run", data="builtin:digits", quiet=True).fit()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["output_size"] == 32
