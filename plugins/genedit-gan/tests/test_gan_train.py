"""Training tasks at tiny sizes: one step improves D, the shared trainer runs them end to end, the
exported run loads back for generation, and collapse is reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from genedit_gan.losses import d_hinge, d_logistic
from genedit_gan.sampling import generate_images
from genedit_gan.training import task_for
from PIL import Image

import genedit_core
from genedit_core.errors import UsageError
from genedit_core.training.config import load_config
from genedit_core.training.context import StepContext

TINY_SETS = {
    "gan": ["model.nz=8", "model.g_hidden=[32]", "model.d_hidden=[32]", "model.size=8", "model.nc=1"],
    "dcgan": ["model.nz=8", "model.ngf=4", "model.ndf=4", "model.size=8", "model.nc=1"],
    "biggan": [
        "model.z_dim=8",
        "model.embed_dim=4",
        "model.channel_width=4",
        "model.num_classes=10",
        "model.size=8",
        "model.nc=1",
        "model.d_width=8",
        "model.g_attention=0",
        "model.d_attention=1",
    ],
    "stylegan2": [
        "model.size=8",
        "model.style_dim=8",
        "model.n_mlp=2",
        "model.channel_base=64",
        "model.channel_max=8",
        "model.nc=1",
        "loss.d_reg_every=1",
        "loss.g_reg_every=1",
    ],
}


def _cfg(name: str, extra: list[str] | None = None) -> dict:
    task = task_for(name)
    return load_config(task.default_config, None, TINY_SETS[name] + ["train.batch_size=8"] + (extra or []))


def _ctx(task, cfg, seed=0):
    torch.manual_seed(seed)
    nets = task.build_networks(cfg)
    trainable = {k: v for k, v in nets.items()}
    opts = task.build_optimizers(trainable, cfg)
    return StepContext(
        nets, nets, opts, {}, cfg, torch.device("cpu"), generator=torch.Generator().manual_seed(seed)
    )


def _d_loss(name, d, real, labels, fake, y_fake):
    with torch.no_grad():
        if name == "biggan":
            return float(d_hinge(d(real, labels), d(fake, y_fake)))
        return float(d_logistic(d(real), d(fake)))


@pytest.mark.parametrize("name", ["gan", "dcgan", "biggan", "stylegan2"])
def test_one_step_lowers_the_d_loss_on_a_fixed_batch(name):
    task = task_for(name)
    cfg = _cfg(name, ["optim.d.lr=0.002", "optim.g.lr=0.0"])
    ctx = _ctx(task, cfg)
    g = torch.Generator().manual_seed(1)
    real = torch.rand(8, 1, 8, 8, generator=g) * 2 - 1
    labels = torch.randint(10, (8,), generator=g)
    for net in ctx.nets.values():
        net.train()
    with torch.no_grad():
        if name == "biggan":
            y_fake = torch.randint(10, (8,), generator=g)
            fake = ctx.nets["g"](torch.randn(8, 8, generator=g), y_fake)
        else:
            y_fake = None
            fake = ctx.nets["g"](torch.randn(8, task.latent_size(ctx.nets), generator=g))
    d = ctx.nets["d"]
    d.eval() if name == "gan" else d.train()  # MLP D: dropout off for a fair comparison
    before = _d_loss(name, d, real, labels, fake, y_fake)
    d.train()
    metrics = task.train_step((real, labels), ctx)
    d.eval() if name == "gan" else d.train()
    after = _d_loss(name, d, real, labels, fake, y_fake)
    assert after < before, (before, after)
    assert {"d_loss", "g_loss", "diversity"} <= set(metrics)
    assert all(np.isfinite(float(v)) for v in metrics.values())
    for p in ctx.nets["d"].parameters():  # the G step left no gradient behind in D
        assert p.grad is None or float(p.grad.abs().sum()) == 0.0


@pytest.mark.parametrize("name", ["dcgan", "biggan", "stylegan2", "gan"])
def test_trainer_run_exports_weights_that_generate(gan_plugins, tmp_path, name):
    from genedit_core.training.trainer import Trainer

    task = task_for(name)
    cfg = _cfg(name, ["train.steps=2", "train.sample_every=2", "train.ckpt_every=2", "train.log_every=1"])
    cfg["data"]["source"] = "builtin:digits"
    run = tmp_path / "run"
    Trainer(task, cfg, run, data="builtin:digits", quiet=True).fit()
    grid = Image.open(run / "samples" / "step-000002.png")
    assert grid.size[0] > 8 * 8 and grid.size[1] > 8 * 8  # 64 samples of 8×8 tiled
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"d_loss", "g_loss"} <= set(records[-1])
    exported = json.loads((run / "config.json").read_text())
    assert exported["class_names"] == [str(i) for i in range(10)]
    model = genedit_core.load(name, weights=str(run), device="cpu", dtype="fp32")
    params = {"class": "3"} if name == "biggan" else {}
    out = generate_images(model, [0, 1], params)
    assert out.shape == (2, 1, 8, 8)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_collapse_warnings_after_the_warm_up():
    from types import SimpleNamespace

    task = task_for("dcgan")
    late = SimpleNamespace(step=1000, cfg={"loss": {}})
    early = SimpleNamespace(step=10, cfg={"loss": {}})
    assert task.check({"d_loss": 0.7, "g_loss": 1.0, "diversity": 0.9}, late) == []
    (msg,) = task.check({"d_loss": 1e-5, "diversity": 0.9}, late)
    assert "discriminator loss collapsed" in msg
    (msg,) = task.check({"d_loss": 0.5, "diversity": 0.02}, late)
    assert "mode collapse" in msg
    assert task.check({"d_loss": 0.5, "diversity": 0.02}, early) == []  # a fresh G is near-constant
    assert task.check(
        {"d_loss": 0.5, "diversity": 0.02}, SimpleNamespace(step=10, cfg={"loss": {"warn_after": 5}})
    )
    (msg,) = task.check({"d_loss": float("nan"), "diversity": 0.9}, early)
    assert "diverged" in msg


def test_diversity_metric_sees_a_collapsed_generator():
    from genedit_gan.training.common import diversity

    g = torch.Generator().manual_seed(0)
    real = torch.rand(16, 1, 8, 8, generator=g)
    same = real[:1].expand(16, -1, -1, -1) + 0.001 * torch.randn(16, 1, 8, 8, generator=g)
    assert diversity(same, real) < 0.05
    assert 0.7 < diversity(torch.rand(16, 1, 8, 8, generator=g), real) < 1.3


def test_ema_decay_comes_from_the_config():
    assert task_for("dcgan").default_config["ema"]["g"] == 0.0  # the paper has no EMA
    for name, decay in (("dcgan", 0.995), ("biggan", 0.99), ("stylegan2", 0.0)):
        task = task_for(name)
        task.build_networks(_cfg(name, [f"ema.g={decay}"]))
        assert task.ema == ({"g": decay} if decay else {})
    task = task_for("biggan")
    task.build_networks(_cfg("biggan"))
    assert task.ema == {"g": 0.999}


def test_dcgan_trains_with_diffaug_and_the_config_is_checked(gan_plugins, tmp_path):
    from genedit_core.training.trainer import Trainer

    overrides = [
        "train.steps=2",
        "train.ckpt_every=2",
        "train.log_every=1",
        "loss.diffaug=translation,cutout",
    ]
    cfg = _cfg("dcgan", overrides)
    Trainer(task_for("dcgan"), cfg, tmp_path / "ok", data="builtin:digits", quiet=True).fit()
    records = [json.loads(x) for x in (tmp_path / "ok" / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(records[-1]["d_loss"])
    bad = _cfg("dcgan", ["train.steps=1", "loss.diffaug=translation,spin"])
    with pytest.raises(UsageError, match="loss.diffaug: unknown"):
        Trainer(task_for("dcgan"), bad, tmp_path / "bad", data="builtin:digits", quiet=True).fit()
