"""Every command end to end on tiny weights, in-process: generate, reconstruct, interpolate, traverse,
sketch, sketch2image; and a two-step training run through the shared trainer that loads back."""

from __future__ import annotations

import json
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image
from vae_testutil import lively, tiny_module, write_run

import genedit_core
from genedit_core.testing import run_cli


@pytest.fixture
def cli(vae_plugins, capsys):
    return partial(run_cli, capsys)


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(a)
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(b)
    return a, b


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        im.load()
        return np.asarray(im)


def test_generate_writes_one_image_per_seed_and_a_grid(cli, tmp_path):
    run = write_run(tmp_path / "run", lively(tiny_module("vae")))
    out = tmp_path / "gen"
    code, _, err = cli("generate", "vae", "--weights", str(run), "--seeds", "0-3", "--grid", "--out-dir", str(out),
                       "--device", "cpu")  # fmt: skip
    assert code == 0, err
    seeds = [_png(out / f"seed{i:04d}.png") for i in range(4)]
    assert all(s.shape == (16, 16) for s in seeds)  # grey model, grey PNGs
    assert _png(out / "grid.png").shape[0] > 16
    assert not np.array_equal(seeds[0], seeds[1])
    code, _, err = cli("generate", "vae", "--weights", str(run), "--seeds", "1", "--out-dir", str(tmp_path / "again"),
                       "--device", "cpu")  # fmt: skip
    assert code == 0, err
    again = _png(tmp_path / "again" / "seed0001.png").astype(int)
    assert (
        np.abs(again - seeds[1].astype(int)).max() <= 1
    )  # same seed, same image (batch-size float noise aside)
    code, _, err = cli("generate", "vae", "--weights", str(run), "--interpolate", "0", "3", "--steps", "4",
                       "--out-dir", str(tmp_path / "interp"), "--device", "cpu")  # fmt: skip
    assert code == 0, err
    frames = [_png(tmp_path / "interp" / f"frame{i:03d}.png") for i in range(4)]
    assert np.abs(frames[0].astype(int) - seeds[0].astype(int)).max() <= 1
    assert np.abs(frames[-1].astype(int) - seeds[3].astype(int)).max() <= 1


def test_reconstruct_interpolate_and_traverse(cli, tmp_path, images):
    a, b = images
    run = write_run(tmp_path / "run", lively(tiny_module("beta-vae")))
    out = tmp_path / "out"
    common = ("--weights", str(run), "--out-dir", str(out), "--device", "cpu", "-q")
    code, _, err = cli("run", "reconstruct", "--model", "beta-vae", str(a), *common)
    assert code == 0, err
    rec = _png(out / "a_beta-vae_reconstruct.png")
    assert rec.shape == (16, 16, 3)

    code, _, err = cli("run", "interpolate", "--model", "beta-vae", str(a), str(b), "--steps", "5", *common)
    assert code == 0, err
    frames = sorted(out.glob("a_beta-vae_interpolate_*.png"))
    assert len(frames) == 5
    assert np.abs(_png(frames[0]).astype(int) - rec.astype(int)).max() <= 1  # endpoint = reconstruction

    code, _, err = cli(
        "run", "traverse", "--model", "beta-vae", str(a), "--dims", "0-2", "--range", "2", *common
    )
    assert code == 0, err
    grid = _png(out / "a_beta-vae_traverse.png")
    assert grid.shape == (3 * 18 + 2, 7 * 18 + 2, 3)

    code, _, err = cli(
        "run", "traverse", "--model", "beta-vae", str(a), "--dims", "0-9", "--overwrite", *common
    )
    assert code != 0 and "0–3" in err


def test_sketch_and_sketch2image(cli, tmp_path, images):
    a, _ = images
    run = write_run(tmp_path / "run", lively(tiny_module("svae")))
    out = tmp_path / "out"
    common = ("--weights", str(run), "--out-dir", str(out), "--device", "cpu", "-q")
    code, _, err = cli("run", "sketch", "--model", "svae", str(a), *common)
    assert code == 0, err
    sketch = _png(out / "a_svae_sketch.png")
    assert sketch.shape == (16, 16)

    code, _, err = cli("run", "sketch2image", "--model", "svae", str(out / "a_svae_sketch.png"), "--samples", "3",
                       "--seed", "7", *common)  # fmt: skip
    assert code == 0, err
    outs = sorted(out.glob("a_svae_sketch_svae_sketch2image_*.png"))
    assert len(outs) == 3 and all(_png(p).shape == (16, 16, 3) for p in outs)
    first = _png(outs[0])
    code, _, err = cli("run", "sketch2image", "--model", "svae", str(out / "a_svae_sketch.png"), "--seed", "7",
                       "-o", str(tmp_path / "one.png"), "--weights", str(run), "--device", "cpu", "-q")  # fmt: skip
    assert code == 0, err
    assert np.abs(_png(tmp_path / "one.png").astype(int) - first.astype(int)).max() <= 1  # seed 7 again

    code, _, err = cli("generate", "svae", "--weights", str(run), "--device", "cpu")
    assert code != 0 and "does not generate" in err


def test_two_training_steps_through_the_shared_trainer_load_back(tmp_path, vae_plugins):
    from genedit_vae.training import SVAETask, task_config

    from genedit_core.training.trainer import Trainer

    tiny = {"image_size": 16, "depth": 2, "width": 4, "max_width": 8, "hidden": 16, "latent_dim": 4}
    cfg = task_config("svae", {
        "model": tiny,
        "data": {"shapes_n": 32, "heldout": "builtin:shapes:heldout", "heldout_size": 8},
        "train": {"steps": 2, "batch_size": 4, "log_every": 1, "sample_every": 2, "ckpt_every": 2, "eval_every": 2},
    })  # fmt: skip
    run = Trainer(SVAETask(), cfg, tmp_path / "run", "builtin:shapes", quiet=True).fit()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in records if "loss" in r]
    assert {"recon", "kl", "elbo", "active_dims"} <= set(logged[-1])
    assert logged[-1]["elbo"] == pytest.approx(-(logged[-1]["recon"] + logged[-1]["kl"]), rel=1e-4)
    assert any("eval" in r and "neg_elbo" in r["eval"] for r in records)
    grid = _png(run / "samples" / "step-000002.png")
    assert grid.shape == (6 * 18 + 2, 6 * 18 + 2, 3)
    loaded = genedit_core.load("svae", weights=str(run), device="cpu")
    assert loaded.hyperparameters["image_size"] == 16 and loaded.hyperparameters["cond_channels"] == 1
    saved = (
        torch.load(run / "checkpoints" / "last.pt", weights_only=True)
        if (run / "checkpoints" / "last.pt").exists()
        else None
    )
    assert saved is None or isinstance(saved, dict)


def test_posterior_collapse_is_warned_about():
    from types import SimpleNamespace

    from genedit_vae.training import VAETask, task_config

    task = VAETask()
    cfg = task_config("vae", {"model": {"latent_dim": 16}, "train": {"steps": 1000}})
    task.build_networks(cfg)
    ctx = SimpleNamespace(step=500, cfg=cfg)
    warnings = task.check({"active_dims": 1.0}, ctx)
    assert len(warnings) == 1 and "posterior collapse" in warnings[0] and "1 of 16" in warnings[0]
    assert task.check({"active_dims": 6.0}, ctx) == []
    assert task.check({"active_dims": 0.0}, SimpleNamespace(step=10, cfg=cfg)) == []  # too early to judge


def test_genedit_train_then_generate_from_the_run(cli, tmp_path):
    run = tmp_path / "run"
    tiny = ["model.in_channels=3", "model.image_size=16", "model.depth=2", "model.width=4", "model.max_width=8",
            "model.hidden=16", "model.latent_dim=4", "data.shapes_n=16", "train.steps=2", "train.batch_size=4",
            "train.log_every=1", "train.sample_every=2", "train.ckpt_every=2"]  # fmt: skip
    sets = [a for s in tiny for a in ("--set", s)]
    code, _, err = cli("train", "beta-vae", "--data", "builtin:shapes", "--out", str(run), *sets, "--device", "cpu",
                       "-q")  # fmt: skip
    assert code == 0, err
    assert json.loads((run / "config.json").read_text())["arch"]["latent_dim"] == 4
    code, _, err = cli("generate", "beta-vae", "--weights", str(run), "--seeds", "0-1", "--out-dir",
                       str(tmp_path / "g"), "--device", "cpu")  # fmt: skip
    assert code == 0, err
    assert _png(tmp_path / "g" / "seed0001.png").shape == (16, 16, 3)
    code, _, err = cli("train", "beta-vae", "--data", "builtin:shapes", "--out", str(tmp_path / "bad"),
                       "--set", "loss.objective=gamma", "-q")  # fmt: skip
    assert code == 2 and "vae, beta or capacity" in err
