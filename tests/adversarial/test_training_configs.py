"""Training configs and run state as a careless user or an attacker leaves them.

Each test builds its attack at test time (a bad ``--set``, a binary or malformed config file, a
damaged pointer, a truncated checkpoint, a changed architecture, another model's run) and runs
``genedit train`` in-process with a tiny trainable task. Asserted: the exit code (2 for a bad
config, 1 for unreadable run state), exactly one error line naming the key or file, no traceback,
nothing trained or saved for a refused config, and, where a checkpoint does not load, that the run
continues from the previous good one and ends with the weights an uninterrupted run computes.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from _tiny_task import TinyTask, trainer_last_net
from torch import nn
from toy_plugin import toy_card

from genedit_core import hookimpl
from genedit_core.api import GeneditWarning


class WidthTask(TinyTask):
    """TinyTask with an architecture key, so a resumed run can be given another architecture."""

    name = "tiny"

    def __init__(self) -> None:
        super().__init__()
        self.default_config = {**self.default_config, "model": {"width": 4}}

    def build_networks(self, cfg):
        w = int(cfg["model"]["width"])
        return {"net": nn.Sequential(nn.Conv2d(1, w, 3, padding=1), nn.Tanh(), nn.Conv2d(w, 1, 3, padding=1))}


class OtherTask(WidthTask):
    name = "other"


class TrainPlugin:
    name = "tinytrain"

    @hookimpl
    def register_models(self, register):
        register(toy_card(name="tiny"))
        register(toy_card(name="other"))

    @hookimpl
    def train(self, request):
        return {"tiny": WidthTask, "other": OtherTask}[request.card.name]()


# 6 steps, a checkpoint every 2, all kept: step-000002, -000004, -000006.
SHORT = ["--set", "train.steps=6", "--set", "train.ckpt_every=2", "--set", "train.keep_checkpoints=0"]


@pytest.fixture
def train(install, cli):
    install(TrainPlugin())

    def _train(*args: str):
        return cli("train", *args, "-q")

    return _train


def _one_error(r, code: int, *needles: str) -> str:
    """The single error line of a refused command (nothing else on stderr, no traceback)."""
    assert r.code == code, r
    assert "Traceback" not in r.err + r.out, r
    assert len(r.error_lines) == 1, r
    assert r.err.strip().splitlines() == r.error_lines, r
    line = r.error_lines[0]
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Runs trained once for the module (by the first test that needs each), copied per test."""
    return {"root": tmp_path_factory.mktemp("made")}


def _made(made: dict[str, Path], train, name: str, *args: str) -> Path:
    if name not in made:
        r = train("tiny", "--out", str(made["root"] / name), *args)
        assert r.code == 0, r
        made[name] = made["root"] / name
    return made[name]


@pytest.fixture
def run(train, made, tmp_path) -> Path:
    """A finished 6-step run with checkpoints at steps 2, 4 and 6, this test's own copy."""
    shutil.copytree(_made(made, train, "run", *SHORT), tmp_path / "run")
    return tmp_path / "run"


def _metric_steps(run: Path) -> list[int]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [x["step"] for x in lines if "loss" in x]


# -- bad --set values: exit 2 before anything is built --------------------------------------------------
@pytest.mark.parametrize(
    ("override", "needles"),
    [
        ("train.steps=abc", ("train.steps: expected an integer", "'abc'")),
        ("train.lr=fast", ("train.lr: expected a number", "'fast'")),
        ("train.lr=.nan", ("train.lr: expected a finite number",)),
        ("train.batch_size=0", ("train.batch_size: must be at least 1, got 0",)),
        ("train.log_every=0", ("train.log_every: must be at least 1",)),
        ("train.bf16=maybe", ("train.bf16: expected true or false",)),
        ("train=5", ("--set train=5", "train is a section", "train.steps")),
        ("train.schedule=cosine", ("train.schedule is a section", "train.schedule.type")),
        ("train.stesp=5", ("train.stesp: unknown key; did you mean train.steps?",)),
        ("traim.steps=5", ("traim: unknown key; did you mean train?",)),
        ("train.width=8", ("train.width: unknown key; did you mean model.width?",)),
        ("model.widht=8", ("model.widht: unknown key; did you mean model.width?",)),
        ("train.schedule.type=cosin", ("train.schedule.type: 'cosin' is not one of", "did you mean cosine?")),
        ("train.grad_clip.max=-1", ("train.grad_clip.max: must be at least 0",)),
        ("train.schedule.milestones=[1,x]", ("train.schedule.milestones[1]: expected an integer",)),
    ],
)
def test_bad_override_is_one_line_before_training(train, tmp_path, override, needles):
    r = train("tiny", "--out", "run", "--set", override)
    _one_error(r, 2, *needles)
    assert not (tmp_path / "run").exists()  # refused before the run folder or config was written


def test_accepted_values_are_saved_as_the_types_the_run_used(train, tmp_path):
    # YAML 1.1 reads 1e-3 as a string and 6.0 is an integral float: both become what the keys hold
    r = train("tiny", "--out", "run", *SHORT, "--set", "train.lr=1e-3", "--set", "train.steps=6.0")
    assert r.code == 0, r
    import yaml

    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["train"]["lr"] == 0.001 and isinstance(saved["train"]["lr"], float)
    assert saved["train"]["steps"] == 6 and isinstance(saved["train"]["steps"], int)


# -- bad config files -----------------------------------------------------------------------------------
def _binary() -> bytes:
    return bytes(range(256)) * 4


def _alias_bomb() -> bytes:
    """A few hundred bytes of YAML that expand to 9**8 values through aliases."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 8)]
    return ("\n".join(lines) + "\ntrain: {steps: *a7}\n").encode()


@pytest.mark.parametrize(
    ("name", "content", "code", "needles"),
    [
        ("c.yaml", _binary(), 2, ("binary data, not a config file",)),
        ("c.toml", b"\xff\xfe[train]\nsteps = 3\n", 2, ("binary data",)),
        ("c.yaml", b"train: [unclosed\n", 2, ("cannot parse config",)),
        ("c.toml", b"[train\nsteps = 3\n", 2, ("cannot parse config",)),
        ("c.json", b'{"train": {"steps": 3}', 2, ("cannot parse config",)),
        ("c.json", b"[" * 100000 + b"]" * 100000, 2, ("cannot parse config",)),
        ("c.yaml", b"- 1\n- 2\n", 2, ("mapping at top level",)),
        ("c.yaml", b"train: 5\n", 2, ("c.yaml: train is a section",)),
        ("c.json", b'{"train": {"steps": "abc"}}', 2, ("train.steps: expected an integer",)),
        ("c.toml", b"[train]\nstesp = 3\n", 2, ("train.stesp: unknown key; did you mean train.steps?",)),
        ("c.yaml", b"# " + b"x" * (1 << 20) + b"\n", 2, ("larger than 1 MiB",)),
        ("c.ini", b"[train]\n", 2, ("config must be .toml",)),
        ("c.yaml", _alias_bomb(), 2, ("more than 100000 values",)),
    ],
)
def test_bad_config_file_is_one_line(train, tmp_path, name, content, code, needles):
    path = tmp_path / name
    path.write_bytes(content)
    r = train("tiny", "--out", "run", "--config", str(path))
    _one_error(r, code, *needles)
    assert not (tmp_path / "run").exists()


def test_config_that_is_a_folder_or_missing(train, tmp_path):
    (tmp_path / "dir.yaml").mkdir()
    _one_error(train("tiny", "--config", str(tmp_path / "dir.yaml")), 2, "dir.yaml", "not a regular file")
    _one_error(train("tiny", "--config", str(tmp_path / "none.yaml")), 2, "none.yaml", "not found")


# -- damaged run state: fall back to the previous good checkpoint ---------------------------------------
def _reference(train, made, steps: int) -> dict[str, torch.Tensor]:
    """The weights of an uninterrupted run of ``steps`` (what a correct resume must end with)."""
    return trainer_last_net(_made(made, train, f"ref{steps}", *SHORT, "--set", f"train.steps={steps}"))


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    ("damage", "falls_back_to", "named"),
    [
        ("truncate nets", "step-000004", "step-000006/nets.safetensors"),
        ("truncate state", "step-000004", "step-000006/state.pt"),
        ("garbage pointer", "step-000006", "last.json"),
        ("pointer outside the run", "step-000006", "last.json"),
    ],
)
def test_unloadable_checkpoint_falls_back_and_training_continues(
    train, made, run, damage, falls_back_to, named
):
    ckpts = run / "checkpoints"
    if damage == "truncate nets":
        f = ckpts / "step-000006" / "nets.safetensors"
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "truncate state":
        f = ckpts / "step-000006" / "state.pt"
        f.write_bytes(f.read_bytes()[:100])
    elif damage == "garbage pointer":
        (ckpts / "last.json").write_bytes(b"\x00\x01{not json")
    else:
        (ckpts / "last.json").write_text(json.dumps({"step": 6, "dir": "../../elsewhere", "metric": None}))
    before = _metric_steps(run)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        r = train("tiny", "--resume", str(run), "--set", "train.steps=8")
    assert r.code == 0, r
    assert "Traceback" not in r.err and not r.error_lines, r
    # shown by the CLI as one "warning:" line, or recorded here when pytest owns the warning display
    shown = [str(w.message) for w in seen if issubclass(w.category, GeneditWarning)]
    shown += [line for line in r.err.splitlines() if line.startswith("warning:")]
    assert len(shown) == 1, (shown, r)
    assert named in shown[0] and f"resuming from {falls_back_to}" in shown[0], shown
    resumed_at = int(falls_back_to.split("-")[1])
    assert _metric_steps(run)[len(before) :] == list(range(resumed_at + 1, 9))
    assert json.loads((ckpts / "last.json").read_text())["dir"] == "step-000008"
    _assert_same(trainer_last_net(run), _reference(train, made, 8))


def test_no_checkpoint_loads_is_one_line_exit_1(train, run):
    for step in (2, 4, 6):
        f = run / "checkpoints" / f"step-{step:06d}" / "nets.safetensors"
        f.write_bytes(b"\x00" * 16)
    r = train("tiny", "--resume", str(run), "--set", "train.steps=8")
    _one_error(r, 1, "step-000006/nets.safetensors", "does not load", "no other checkpoint")


def test_stale_temporaries_are_cleaned_and_nothing_else(train, run):
    ckpts = run / "checkpoints"
    stale_dir = ckpts / ".step-000008.x1y2z3"
    stale_dir.mkdir()
    (stale_dir / "nets.safetensors").write_bytes(b"half")
    stale = [
        stale_dir,
        ckpts / ".last.json.abc.part",
        run / ".model.safetensors.abc.part",
        run / "tmpq1w2.part",
    ]
    for p in stale[1:]:
        p.write_bytes(b"partial")
    kept = [run / "notes.txt", ckpts / "mine.part", run / ".hidden"]
    kept[0].write_text("mine")
    kept[1].write_text("not genedit's name")
    kept[2].mkdir()
    r = train("tiny", "--resume", str(run), "--set", "train.steps=8")
    assert r.code == 0, r
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


# -- resume with another config, architecture or model ------------------------------------------------
def test_resume_refuses_a_changed_architecture_with_the_difference(train, run):
    r = train("tiny", "--resume", str(run), "--set", "model.width=8")
    _one_error(r, 2, "model.width is 8 now, 4 in", "config.yaml", "start a new run")


def test_resume_may_change_steps_and_intervals(train, run):
    r = train("tiny", "--resume", str(run), "--set", "train.steps=7", "--set", "train.log_every=3")
    assert r.code == 0, r
    assert json.loads((run / "checkpoints" / "last.json").read_text())["step"] == 7


def test_resume_past_the_end_is_refused(train, run):
    _one_error(train("tiny", "--resume", str(run), "--set", "train.steps=3"), 2, "at step 6", "train.steps=3")


def test_edited_run_config_that_no_longer_fits_the_checkpoint(train, run):
    path = run / "config.yaml"
    path.write_text(path.read_text().replace("width: 4", "width: 8"))
    r = train("tiny", "--resume", str(run), "--set", "train.steps=8")
    _one_error(r, 1, "step-000006/nets.safetensors", "net/0.weight is 4×1×3×3 there, 8×1×3×3")


def test_resume_of_another_models_run(train, run):
    r = train("other", "--resume", str(run))
    _one_error(r, 2, "a run of 'tiny', not 'other'", "genedit train tiny --resume")


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (_binary(), ("config.yaml: binary data",)),
        (b"train: [unclosed\n", ("config.yaml: damaged run config",)),
        (b"train: 5\n", ("config.yaml: damaged run config", "train is a section")),
        (b"train:\n  stesp: 5\n", ("config.yaml: train.stesp: unknown key; did you mean train.steps?",)),
    ],
)
def test_damaged_run_config_is_one_line_exit_1(train, run, content, needles):
    (run / "config.yaml").write_bytes(content)
    _one_error(train("tiny", "--resume", str(run)), 1, *needles)
