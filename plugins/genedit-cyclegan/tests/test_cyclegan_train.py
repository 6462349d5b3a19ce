"""CycleGAN through the shared trainer at a tiny size: the run exports both generators, writes
A→B→A / B→A→B grids, resumes bit-identically (image pool included), and the pieces of the step
(pool, unpaired data, identity loss) do what the paper's recipe says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from cyclegan_testutil import write_png
from genedit_cyclegan.training import CycleGANTask, ImagePool, UnpairedImages
from PIL import Image
from safetensors.torch import load_file

import genedit_core
from genedit_core.errors import UsageError
from genedit_core.training.config import apply_overrides, load_config, read_saved_config
from genedit_core.training.context import StepContext
from genedit_core.training.trainer import Trainer

TINY = [
    "model.ngf=4",
    "model.ndf=4",
    "model.n_blocks=1",
    "model.n_layers_d=2",
    "data.crop=16",
    "data.load_size=0",
    "loss.pool=3",
    "train.batch_size=2",
    "train.log_every=1",
    "train.device=cpu",
]


@pytest.fixture(scope="module")
def domains(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("domains")
    for i in range(4):
        write_png(root / "A" / f"{i}.png", i)
        write_png(root / "B" / f"{i}.png", 10 + i, tone=True)
    return root / "A", root / "B"


def _train(run: Path, a: Path, sets: list[str], resume: bool = False) -> Path:
    task = CycleGANTask()
    if resume:
        cfg = apply_overrides(read_saved_config(run), sets)
    else:
        cfg = load_config(task.default_config, None, TINY + sets)
        cfg["data"]["source"] = str(a)
    return Trainer(task, cfg, run, data=str(a), resume=resume, quiet=True).fit()


def test_train_export_samples_and_bit_identical_resume(tmp_path, domains):
    a, b = domains
    # a constant schedule: a linear one is rebuilt from train.steps, which the halves run raises
    common = [f"data.b={b}", "train.ckpt_every=2", "train.sample_every=4", "train.schedule.type=constant"]
    straight = _train(tmp_path / "straight", a, common + ["train.steps=4"])
    _train(tmp_path / "halves", a, common + ["train.steps=2"])
    halves = _train(tmp_path / "halves", a, ["train.steps=4"], resume=True)

    one = load_file(str(straight / "checkpoints" / "step-000004" / "nets.safetensors"))
    two = load_file(str(halves / "checkpoints" / "step-000004" / "nets.safetensors"))
    assert one.keys() == two.keys() and any(k.startswith("pool/") for k in one)
    assert int(one["pool/count"].min()) == 3  # the pool filled, so its random swaps were exercised
    assert all(torch.equal(one[k], two[k]) for k in one), [k for k in one if not torch.equal(one[k], two[k])]

    exported = load_file(str(straight / "model.safetensors"))
    assert {k.split(".")[0] for k in exported} == {"a2b", "b2a"}
    model = genedit_core.load("cyclegan", weights=str(straight), device="cpu", dtype="fp32")
    assert model.hyperparameters["directions"] == "a2b, b2a"
    # 4 images per domain: 3 strips of A→B→A over 3 of B→A→B, each strip 3 crops wide
    grid = np.asarray(Image.open(straight / "samples" / "step-000004.png"))
    pad = 2
    assert grid.shape[:2] == (2 * (16 + pad) + pad, 3 * (3 * 16 + pad) + pad)


def test_a_translation_runs_in_both_directions(tmp_path, domains):
    from genedit_cyclegan.build import directed

    a, b = domains
    run = _train(tmp_path / "run", a, [f"data.b={b}", "train.steps=1", "train.sample_every=0"])
    model = genedit_core.load("cyclegan", weights=str(run), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 12, 20)
    fwd, back = directed(model, "a2b")(x), directed(model, "b2a")(x)
    assert fwd.shape == back.shape == x.shape and not torch.equal(fwd, back)


def test_domains_come_from_data_or_a_root_with_train_a_and_b(tmp_path, domains):
    a, b = domains
    cfg = load_config(CycleGANTask.default_config, None, TINY)
    with pytest.raises(UsageError, match="two unpaired domains"):
        CycleGANTask().build_dataset(str(a), cfg)
    root = tmp_path / "horse2zebra"
    for i in range(2):
        write_png(root / "trainA" / f"{i}.png", i)
    for i in range(3):
        write_png(root / "trainB" / f"{i}.png", 5 + i)
    ds = CycleGANTask().build_dataset(str(root), cfg)
    assert (len(ds.a), len(ds.b), len(ds)) == (2, 3, 3)
    cfg["data"]["a"] = str(a)
    with pytest.raises(UsageError, match="not both"):
        CycleGANTask().build_dataset(str(root), cfg)


def test_unpaired_items_draw_b_at_random_and_crop_reproducibly():
    a = [torch.full((3, 20, 24), i / 10) for i in range(2)]
    b = [torch.full((3, 18, 18), 0.5 + i / 10) for i in range(5)]
    ds = UnpairedImages(a, b, crop=16)
    assert len(ds) == 5
    partners = {round(float(ds.get(0, torch.Generator().manual_seed(s))[1].mean()), 3) for s in range(20)}
    assert len(partners) > 2  # A[0] meets several B images, never a fixed one
    x1, y1 = ds.get(3, torch.Generator().manual_seed(7))
    x2, y2 = ds.get(3, torch.Generator().manual_seed(7))
    assert torch.equal(x1, x2) and torch.equal(y1, y2) and x1.shape == (3, 16, 16)
    assert float(x1.mean()) == pytest.approx(0.1 * 2 - 1)  # A[3 mod 2] in [-1, 1]


class _Ctx:
    def __init__(self, seed: int):
        self.generator = torch.Generator().manual_seed(seed)

    def rand(self, *shape):
        return torch.rand(*shape, generator=self.generator)

    def randint(self, high, shape):
        return torch.randint(high, shape, generator=self.generator)


def test_image_pool_keeps_the_last_fakes_and_swaps_half_of_the_time():
    pool = ImagePool(3, 1, 2)
    ctx = _Ctx(0)
    first = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    assert torch.equal(pool.query("a", first, ctx), first)  # filling: returned as given
    assert int(pool.count[0]) == 3 and int(pool.count[1]) == 0
    new = (10 + torch.arange(40.0)).view(40, 1, 1, 1).expand(40, 1, 2, 2)
    got, sent = pool.query("a", new, ctx)[:, 0, 0, 0].tolist(), new[:, 0, 0, 0].tolist()
    swapped = [i for i in range(40) if got[i] != sent[i]]
    assert 8 <= len(swapped) <= 32  # about half come from the pool (a fair coin, 40 draws)
    # what comes back was stored before: one of the first three or an earlier fake
    assert all(got[i] in {0.0, 1.0, 2.0, *sent[:i]} for i in swapped)
    assert len(set(got)) == 40  # each stored fake is handed out at most once
    assert torch.equal(ImagePool(0, 1, 2).query("b", new, ctx), new)


def test_identity_loss_is_the_recipes_weight_and_can_be_turned_off(domains):
    a, b = domains
    task = CycleGANTask()
    metrics = {}
    for idt in (0.5, 0.0):
        cfg = load_config(task.default_config, None, TINY + [f"data.b={b}", f"loss.identity={idt}"])
        torch.manual_seed(0)
        nets = task.build_networks(cfg)
        opts = task.build_optimizers(nets, cfg)
        ctx = StepContext(
            nets, nets, opts, {}, cfg, torch.device("cpu"), generator=torch.Generator().manual_seed(0)
        )
        ds = task.build_dataset(str(a), cfg)
        batch = tuple(
            torch.stack(t) for t in zip(*(ds.get(i, torch.Generator().manual_seed(i)) for i in range(2)))
        )
        metrics[idt] = task.train_step(batch, ctx)
    assert metrics[0.0]["identity"] == 0.0
    # λ_idt · λ_cycle · (L1 + L1): for a near-constant fresh G that is ~5 × the mean |x| sum
    assert metrics[0.5]["identity"] > 1.0
    assert metrics[0.5]["cycle"] == pytest.approx(metrics[0.0]["cycle"], rel=1e-6)
