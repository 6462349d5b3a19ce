"""Every trainable model trains under ``torchrun --nproc-per-node 2`` (gloo, CPU), as docs/training.md
says it does.

The models come from the registry: a model is trainable when an installed plugin answers the
``train`` hook for its card, exactly as ``genedit train`` decides. Each one runs a tiny ``genedit
train`` (2 steps, a few channels) through ``genedit_cli.app.main``, the function ``torchrun -m
genedit_cli`` calls, in both processes. A test passes when both processes exit 0 and rank 0 wrote
the final checkpoint and weights. Both processes ending with the same weights is checked by the
trainer itself, which fails a DDP run whose processes disagree; ``test_trainer_refuses_...`` shows
that this check fires.

All the trainings share one torchrun launch (see ``_ddp_train_all.py``): starting two processes
that import torch costs more than a tiny training, and one launch per model would take minutes.
The tests live here, not in each plugin, because the list is the registry's, across plugins: an
integration test (tests/integration/), it needs every installed training plugin, real models and all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "_ddp_train_all.py"

COMMON = [
    "train.steps=2",
    "train.batch_size=4",
    "train.log_every=1",
    "train.ckpt_every=2",
    "train.sample_every=2",
]
SR = ["data.patch=16", "data.epoch_length=8", "data.eval=null", "train.eval_every=0"]
VAE = ["model.image_size=16", "model.depth=2", "model.width=4", "model.max_width=8", "model.hidden=16",
       "model.latent_dim=4"]  # fmt: skip
PHOTOS, DIGITS = "builtin:skimage-photos", "builtin:digits"

# How to make each trainable model tiny: its --data and --set overrides. A model the registry lists
# as trainable without an entry here fails its test (and an entry for a model that is gone fails
# test_tiny_configs_name_only_trainable_models), so the list cannot go stale silently.
TINY: dict[str, tuple[str, list[str]]] = {
    "edsr": (PHOTOS, SR + ["model.num_feat=8", "model.num_block=1"]),
    "edsr-baseline": (PHOTOS, SR + ["model.num_feat=8", "model.num_block=1"]),
    "realesrgan": (PHOTOS, SR + ["model.num_feat=8", "model.num_block=1", "model.num_grow_ch=4"]),
    "espcn": (PHOTOS, SR + ["model.features=[8,4]"]),
    "srcnn": (PHOTOS, SR + ["model.features=[8,4]"]),
    "vdsr": (PHOTOS, SR + ["model.num_feat=8", "model.num_layers=3"]),
    "gan": (
        DIGITS,
        ["model.nz=8", "model.g_hidden=[16]", "model.d_hidden=[16]", "model.size=8", "model.nc=1"],
    ),
    "dcgan": (DIGITS, ["model.nz=8", "model.ngf=4", "model.ndf=4", "model.size=8", "model.nc=1"]),
    "biggan": (
        DIGITS,
        [
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
    ),  # fmt: skip
    # step 0 runs both lazy regularisers (R1 through D, path length through G): double backward under DDP
    "stylegan2": (
        DIGITS,
        [
            "model.size=8",
            "model.style_dim=8",
            "model.n_mlp=2",
            "model.channel_base=64",
            "model.channel_max=8",
            "model.nc=1",
        ],
    ),  # fmt: skip
    "vae": (DIGITS, VAE),
    "beta-vae": (DIGITS, VAE),
    # a learned σ is a parameter used outside forward (in the loss): its gradient must be all-reduced too
    "svae": (DIGITS, VAE + ["model.learn_sigma=true", "model.likelihood=gaussian"]),
    "dncnn": (
        PHOTOS,
        ["model.features=4", "model.depth=3", "data.patch=16", "data.epoch_length=8", "data.eval=null"],
    ),
    "gated-unet": (
        PHOTOS,
        ["model.features=2", "model.dilated=1", "data.patch=32", "data.epoch_length=8", "data.eval=null"],
    ),
    # the VGG loss network stays outside DDP (frozen, not a trained network); the bundled VGG16 loads
    "fast-style": (PHOTOS, ["model.width=4", "data.size=32", "data.epoch_length=8", "style.size=48"]),
    # unpaired: --data is domain A, data.b domain B; both generators in one network (one all-reduce)
    "cyclegan": (
        PHOTOS,
        [
            "data.b=builtin:skimage-photos:heldout",
            "model.ngf=4",
            "model.ndf=4",
            "model.n_blocks=1",
            "model.n_layers_d=2",
            "data.crop=16",
            "data.load_size=0",
            "loss.pool=2",
        ],
    ),  # fmt: skip
    # two identities: --data is A, data.b B; the step decodes both in one forward (every parameter used)
    "faceswap": (
        PHOTOS,
        ["data.b=builtin:skimage-photos:heldout", "model.width=4", "model.code=8", "data.size=16"],
    ),
    # pairs made in the dataset (XDoG line art, simulated hints): the step sees ready tensors
    "paints": (PHOTOS, ["model.features=2", "data.patch=16", "data.epoch_length=8", "data.eval=null"]),
}


def trainable_models() -> list[str]:
    """Names of the registry's models that some installed plugin trains (the ``train`` hook answers)."""
    from genedit_core.api import list_models
    from genedit_core.plugins import get_plugins
    from genedit_core.requests import TrainRequest

    plugins = get_plugins()
    return [
        card.name
        for card in list_models()
        if plugins.owner_hook("train", card)(request=TrainRequest(card=card, data=None, out=Path("unused")))
        is not None
    ]


TRAINABLE = trainable_models()


def _jobs(models: list[str], runs: Path) -> list[dict]:
    jobs = []
    for name in models:
        if name not in TINY:
            continue  # its test fails, naming the missing entry
        data, sets = TINY[name]
        argv = ["train", name, "--data", data, "--out", str(runs / name), "--device", "cpu", "-q"]
        for s in COMMON + sets:
            argv += ["--set", s]
        jobs.append({"model": name, "argv": argv})
    jobs.append({"model": "noise", "out": str(runs / "noise")})
    jobs.append({"model": "drift", "out": str(runs / "drift"), "expect_code": 1})  # last: it fails
    return jobs


@pytest.fixture(scope="module")
def ddp_results(request, tmp_path_factory) -> tuple[Path, Path, str]:
    """One torchrun launch running the models of the selected tests; (records, runs, output)."""
    wanted = [
        item.callspec.params["model"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec") and "model" in item.callspec.params
    ]
    base = tmp_path_factory.mktemp("ddp")
    records, runs = base / "records", base / "runs"
    records.mkdir()
    jobs = base / "jobs.json"
    jobs.write_text(json.dumps(_jobs(wanted, runs)))
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = "1"
    env["COLUMNS"] = "400"  # one message, one line, whatever the temporary path's length
    env.pop("GENEDIT_LOAD_PLUGINS", None)  # every installed plugin, as a user has them
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    proc = subprocess.Popen(
        [*cmd, str(DRIVER), str(records), str(jobs)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # a hung launch is stopped with its workers, not left running
    )
    try:
        output, _ = proc.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += "\n[the torchrun launch did not finish in 420 s and was killed]"
    return records, runs, output


def _record(records: Path, model: str, rank: int, output: str) -> dict:
    path = records / f"{model}.rank{rank}.json"
    assert path.is_file(), (
        f"{model}: rank {rank} never finished (an earlier job ended the launch?)\n{output[-3000:]}"
    )
    return json.loads(path.read_text())


def test_registry_lists_trainable_models_of_every_training_plugin():
    # the enumeration itself must see something from each plugin that trains (else the test is vacuous)
    from genedit_core.api import get_card

    assert {get_card(m).plugin for m in TRAINABLE} >= {"sr", "gan", "vae"}
    assert "bicubic" not in TRAINABLE  # a fixed resampler answers no train hook


def test_tiny_configs_name_only_trainable_models():
    assert set(TINY) <= set(TRAINABLE), (
        f"entries for models that are not trainable: {set(TINY) - set(TRAINABLE)}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("model", TRAINABLE)
def test_model_trains_under_torchrun_with_two_processes(model, ddp_results):
    assert model in TINY, f"{model} is trainable but has no tiny DDP config: add it to TINY in {__file__}"
    records, runs, output = ddp_results
    for rank in (0, 1):
        rec = _record(records, model, rank, output)
        assert rec["code"] == 0, (
            f"{model}: rank {rank} exited {rec['code']} {rec['message']}\n{output[-3000:]}"
        )
    run = runs / model
    assert output.count(f"run saved in {run};") == 1  # said once, by rank 0, not once per process
    last = json.loads((run / "checkpoints" / "last.json").read_text())
    assert last["step"] == 2
    assert (run / "checkpoints" / last["dir"] / "nets.safetensors").is_file()
    assert (run / "model.safetensors").stat().st_size > 0
    assert json.loads((run / "config.json").read_text())["genedit_task"]
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "images_per_s" in r] == [1, 2]  # rank 0 alone writes the log


@pytest.mark.slow
def test_trainer_refuses_a_ddp_run_whose_processes_drifted_apart(ddp_results):
    """A step that calls the unwrapped network gets no gradient all-reduce: the check must fire."""
    records, _, output = ddp_results
    for rank in (0, 1):
        rec = _record(records, "drift", rank, output)
        assert rec["code"] == 1, rec
        assert "processes ended with different weights for net" in rec["message"], rec
        assert "unwrap" in rec["message"]


@pytest.mark.slow
def test_each_process_draws_its_own_step_noise(ddp_results):
    """ctx.randn differs between processes (else both would make the same fakes), and within one
    process from step to step; rank 0 keeps the single-process stream, seeded from (seed, step)."""
    import torch

    records, _, output = ddp_results
    r0, r1 = (_record(records, "noise", rank, output) for rank in (0, 1))
    assert r0["code"] == 0 and r1["code"] == 0, (r0, r1)
    assert len(r0["noise"]) == len(r1["noise"]) == 3
    assert all(a != b for a, b in zip(r0["noise"], r1["noise"]))
    assert r0["noise"][0] != r0["noise"][1]
    expected = torch.randn(3, generator=torch.Generator().manual_seed(1)).tolist()  # seed 0, step 1
    assert r0["noise"][1] == pytest.approx(expected)


def test_unwrap_and_the_wrapped_networks_attribute_hint():
    """In one process: unwrap reaches the network; a missing attribute on the wrapper names the fix."""
    import torch
    import torch.distributed as dist
    from torch import nn

    from genedit_core.training import unwrap
    from genedit_core.training.distributed import wrap

    class Net(nn.Linear):
        config = "cfg"

    net = Net(2, 2)
    assert unwrap(net) is net
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        wrapped = wrap(net, torch.device("cpu"))
        assert unwrap(wrapped) is net and unwrap(torch.nn.DataParallel(wrapped)) is net
        assert wrapped.module is net and wrapped.training  # its own attributes still work
        with pytest.raises(AttributeError, match=r"no attribute 'config'.*unwrap\(net\)\.config"):
            _ = wrapped.config
        with pytest.raises(AttributeError, match=r"has no attribute 'nothing_here'$"):
            _ = wrapped.nothing_here
        assert not hasattr(wrapped, "config")
    finally:
        dist.destroy_process_group()
