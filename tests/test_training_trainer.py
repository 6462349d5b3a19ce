"""The shared trainer: resume is bit-identical, DDP matches one process, loop features work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genedit_core.training.config import apply_overrides, load_config
from genedit_core.training.data import SeededBatches
from genedit_core.training.trainer import Trainer, make_scheduler

sys.path.insert(0, str(Path(__file__).parent))
from _tiny_task import NoisyPairs, TinyTask, trainer_last_net  # noqa: E402

SCRIPT = Path(__file__).parent / "_tiny_task.py"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).parent) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    return env


def _fit(tmp: Path, name: str, overrides: list[str] | None = None, task: TinyTask | None = None) -> Trainer:
    task = task or TinyTask()
    cfg = apply_overrides(load_config(task.default_config), overrides or [])
    trainer = Trainer(task, cfg, tmp / name, quiet=True)
    trainer.fit()
    return trainer


def test_run_directory_layout_and_weights(tmp_path):
    trainer = _fit(tmp_path, "run")
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file() and (run / "model.safetensors").is_file()
    assert json.loads((run / "config.json").read_text())["arch"] == "tiny"
    last = json.loads((run / "checkpoints" / "last.json").read_text())
    assert last["step"] == 40 and (run / "checkpoints" / last["dir"] / "state.pt").is_file()
    # state.pt must load with the safe unpickler, like every checkpoint genedit reads
    state = torch.load(run / "checkpoints" / last["dir"] / "state.pt", weights_only=True)
    assert state["step"] == 40 and "net" in state["optimizers"]
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines if "loss" in x] == list(range(1, 41))
    assert lines[-1]["loss"] < lines[0]["loss"] * 0.7  # it actually learns
    assert len(trainer.history) == 40


def test_interrupted_then_resumed_is_bit_identical(tmp_path):
    """Kill a run between checkpoints (SIGKILL), resume it, compare with an uninterrupted run."""
    args = ["train.steps=400", "train.ckpt_every=25", "train.log_every=50"]
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "full"), *args], check=True, env=_env())
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(tmp_path / "cut"), *args], env=_env())
    marker = tmp_path / "cut" / "checkpoints" / "step-000050"
    deadline = time.time() + 60
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    last = json.loads((tmp_path / "cut" / "checkpoints" / "last.json").read_text())["step"]
    assert last < 400, "the run finished before it could be interrupted"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(tmp_path / "cut"), *args, "--resume"], check=True, env=_env()
    )
    full, cut = trainer_last_net(tmp_path / "full"), trainer_last_net(tmp_path / "cut")
    assert full.keys() == cut.keys()
    for k in full:
        assert torch.equal(full[k], cut[k]), k


@pytest.mark.slow
def test_ddp_two_cpu_processes_match_single_process(tmp_path):
    args = [
        "train.steps=12",
        "train.batch_size=8",
        "train.ckpt_every=12",
        "train.log_every=1",
        "train.device=cpu",
    ]
    subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "single"), *args], check=True, env=_env())
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(SCRIPT),
        str(tmp_path / "ddp"),
        *args,
    ]
    subprocess.run(cmd, check=True, env=_env(), timeout=180)
    r0 = torch.load(tmp_path / "ddp" / "final-rank0.pt")
    r1 = torch.load(tmp_path / "ddp" / "final-rank1.pt")
    single = torch.load(tmp_path / "single" / "final-rank0.pt")
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"ranks disagree on {k}"
        torch.testing.assert_close(r0[k], single[k], rtol=1e-4, atol=1e-5)
    h_ddp = json.loads((tmp_path / "ddp" / "history-rank0.json").read_text())
    h_single = json.loads((tmp_path / "single" / "history-rank0.json").read_text())
    assert [round(h["loss"], 4) for h in h_ddp] == pytest.approx(
        [round(h["loss"], 4) for h in h_single], abs=2e-4
    )
    # only rank 0 writes checkpoints and metrics
    assert not list((tmp_path / "ddp").glob("checkpoints/*/*.part"))


def test_sharding_unions_to_the_global_batch():
    ds = NoisyPairs(n=32)
    single = SeededBatches(ds, 8, seed=3)
    parts = [SeededBatches(ds, 8, seed=3, rank=r, world=2) for r in range(2)]
    for step in (0, 1, 5, 9):  # crosses epochs (4 steps per epoch)
        whole = sorted(single.indices(step))
        split = sorted(parts[0].indices(step) + parts[1].indices(step))
        assert whole == split
    assert single.indices(0) != single.indices(4), "each epoch must reshuffle"


def test_gradient_accumulation_matches_big_batch(tmp_path):
    a = _fit(tmp_path, "big", ["train.steps=5", "train.batch_size=8", "train.ckpt_every=5"])
    b = _fit(
        tmp_path, "acc", ["train.steps=5", "train.batch_size=4", "train.accumulate=2", "train.ckpt_every=5"]
    )
    assert a and b
    wa, wb = trainer_last_net(tmp_path / "big"), trainer_last_net(tmp_path / "acc")
    # accumulation sees the same 8 samples per step only if the order matches: check the update is
    # of the same size and direction instead of exact equality
    da = torch.cat([v.flatten() for v in wa.values()])
    db = torch.cat([v.flatten() for v in wb.values()])
    assert torch.nn.functional.cosine_similarity(da, db, dim=0) > 0.99


def test_grad_clip_by_norm_limits_the_update(tmp_path):
    task = TinyTask()
    cfg = apply_overrides(
        load_config(task.default_config),
        [
            "train.grad_clip.type=norm",
            "train.grad_clip.max=1e-3",
            "train.steps=1",
            "train.lr=1.0",
            "train.ckpt_every=1",
        ],
    )
    trainer = Trainer(task, cfg, tmp_path / "clip", quiet=True)
    torch.manual_seed(0)
    before = task.build_networks(cfg)["net"].state_dict()
    trainer.fit()
    after = trainer_last_net(tmp_path / "clip")
    delta = torch.cat([(after[f"net/{k}"] - v).flatten() for k, v in before.items()])
    # SGD step with lr 1 and clipped norm 1e-3 moves the weights by at most 1e-3
    assert 0 < float(delta.norm()) <= 1e-3 + 1e-6


def test_ema_copy_is_saved_and_exported(tmp_path):
    _fit(tmp_path, "ema", ["train.steps=10", "train.ckpt_every=10"], task=TinyTask(ema=0.9))
    flat = trainer_last_net(tmp_path / "ema")
    assert any(k.startswith("net_ema/") for k in flat)
    from safetensors.torch import load_file

    exported = load_file(str(tmp_path / "ema" / "model.safetensors"))
    for k, v in exported.items():
        assert torch.equal(v, flat[f"net_ema/{k}"])
        assert not torch.equal(v, flat[f"net/{k}"])


def test_lr_schedules():
    cfg = load_config({}, None, ["train.schedule.type=cosine", "train.schedule.warmup=2"])
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, cfg, total=10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(0.5) and lrs[1] == pytest.approx(1.0)
    assert lrs[-1] < 0.05 and all(a >= b for a, b in zip(lrs[1:], lrs[2:]))
    cfg = load_config(
        {}, None, ["train.schedule.type=step", "train.schedule.milestones=[3]", "train.schedule.gamma=0.1"]
    )
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = make_scheduler(opt, cfg, total=10)
    seen = []
    for _ in range(5):
        seen.append(round(opt.param_groups[0]["lr"], 6))
        opt.step()
        sched.step()
    assert seen == [1.0, 1.0, 1.0, 0.1, 0.1]


def test_config_file_and_overrides(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[train]\nsteps = 7\n[model]\nwidth = 3\n")
    cfg = load_config({"model": {"width": 1, "depth": 2}}, f, ["model.depth=5", "train.grad_clip.type=value"])
    assert cfg["train"]["steps"] == 7 and cfg["model"] == {"width": 3, "depth": 5}
    assert cfg["train"]["grad_clip"] == {"type": "value", "max": 0.0}
    y = tmp_path / "c.yaml"
    y.write_text("train:\n  batch_size: 3\n")
    assert load_config({}, y)["train"]["batch_size"] == 3
    from genedit_core.errors import UsageError

    with pytest.raises(UsageError, match="key=value"):
        apply_overrides(cfg, ["train.steps"])
