"""Ctrl-C and kill -9 in the middle of a batch: one line, exit 130, no temporary file left behind.

SIGINT is sent to a real ``genedit`` process at a known point (the test waits for a marker file
the process writes there): while the model runs, and while an output is being encoded (its
temporary file exists). SIGKILL cannot be caught, so what it leaves is removed by the next run
into the same folder; temporary files of live processes and other people's files are left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli
from inline_plugin import CardsPlugin, passthrough_model
from PIL import Image
from toy_plugin import toy_site

from genedit_core import hookimpl
from genedit_core.cards import ModelCard

# Runs genedit with one slow step, announced by a marker file: "edit" sleeps in the model run of
# the second image, "encode" after the second output's temporary file is written, before renaming.
SLOW_GENEDIT = """
import os, sys, time
import genedit_core.images as images
import genedit_core.pipeline as pipeline

where, marker = os.environ["SLOW_AT"], os.environ["SLOW_MARKER"]
calls = {"edit": 0, "encode": 0}

def pause(kind):
    calls[kind] += 1
    if kind == where and calls[kind] == 2:
        open(marker, "w").close()
        time.sleep(120)

real_apply_all, real_encode = pipeline.apply_all, images._encode

def apply_all(*args, **kwargs):
    pause("edit")
    return real_apply_all(*args, **kwargs)

def encode(tmp, *args, **kwargs):
    real_encode(tmp, *args, **kwargs)
    pause("encode")

pipeline.apply_all, images._encode = apply_all, encode
from genedit_cli.app import main
main()  # as the console script calls it (genedit's own signal handling included)
"""


def png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (4, 6, 3), dtype=np.uint8)).save(path)
    return path


def temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.part"))


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_slow(tmp_path: Path, toy: dict[str, str], where: str, *args: str) -> tuple[subprocess.Popen, Path]:
    script = tmp_path / "slow_genedit.py"
    script.write_text(SLOW_GENEDIT)
    marker = tmp_path / "marker"
    env = {**os.environ, **toy, "SLOW_AT": where, "SLOW_MARKER": str(marker)}
    proc = subprocess.Popen(
        [sys.executable, str(script), "run", "upscale", "-m", "resize", "in", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal's foreground job: a shell starts background jobs (`make test &`, CI runners)
        # with SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt
        preexec_fn=_sigint_default,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"the slow step was never reached: {out}{err}")
        time.sleep(0.05)
    return proc, marker


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """genedit loads the toy plugins alone; ``resize`` (a toy bicubic x2) is the batch's model."""
    return toy_site(tmp_path_factory.mktemp("toy-site"))


@pytest.fixture
def inputs(tmp_path):
    files = [png(tmp_path / "in" / f"{name}.png", seed=i) for i, name in enumerate("abc")]
    return {f: f.read_bytes() for f in files}


@pytest.mark.parametrize(
    "sig, code, line", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]
)
@pytest.mark.parametrize("where", ["edit", "encode"])
def test_ctrl_c_is_one_line_exit_130_and_leaves_no_temporary_file(
    tmp_path, toy, inputs, where, sig, code, line
):
    """SIGTERM (kill, a scheduler stopping the job) cleans up like Ctrl-C, with its own code."""
    proc, _ = start_slow(tmp_path, toy, where)
    if where == "encode":
        assert len(temporaries(tmp_path / "results")) == 1  # interrupted with the temporary file there

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == code, err
    assert err.splitlines()[-1] == line and "Traceback" not in err
    assert "error:" not in err
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["a_resize_x2.png"]  # no partial b
    assert Image.open(tmp_path / "results" / "a_resize_x2.png").size == (12, 8)
    assert out.splitlines()[0].startswith("in/a.png -> results/a_resize_x2.png")
    assert all(f.read_bytes() == data for f, data in inputs.items())


def test_what_kill_9_leaves_is_removed_by_the_next_run_into_that_folder(tmp_path, toy, inputs):
    proc, _ = start_slow(tmp_path, toy, "encode")
    proc.kill()
    proc.communicate(timeout=60)
    results = tmp_path / "results"
    [leftover] = temporaries(results)
    assert leftover.startswith(".b_resize_x2.png.genedit-")
    old = time.time() - 60  # the killed writer has been quiet for a minute
    os.utime(results / leftover, (old, old))
    # not ours to remove: a live process's temporary file (pid 1), and files that only look similar
    keep = [".x.png.genedit-1.abcdefgh.part", ".notes.part", "b.part", ".x.png.genedit-12.ABCDEFGH.part"]
    for name in keep:
        (results / name).write_text("keep")
        os.utime(results / name, (old, old))

    rerun = run_cli(
        "run",
        "upscale",
        "-m",
        "resize",
        "in",
        "--skip-existing",
        "-q",
        env=toy,
        cwd=tmp_path,
    )

    assert rerun.returncode == 0, rerun.stderr
    assert temporaries(results) == sorted(keep)
    outputs = sorted(p.name for p in results.iterdir() if not p.name.endswith(".part"))
    assert outputs == ["a_resize_x2.png", "b_resize_x2.png", "c_resize_x2.png"]  # only b and c were done


class Stopper(CardsPlugin):
    """A weight-free ``retouch`` model; Ctrl-C arrives inside its edit hook on the second image."""

    def __init__(self) -> None:
        super().__init__(
            ModelCard(name="stopper", tasks=("retouch",), family="test", summary="t", needs_weights=False)
        )
        self.calls = 0

    @hookimpl
    def load_model(self, request):
        return passthrough_model(request)

    @hookimpl
    def edit(self, request):
        self.calls += 1
        if self.calls == 2:
            raise KeyboardInterrupt
        return request.tiler(request.model, request.image)


def test_ctrl_c_inside_a_plugin_is_not_taken_for_a_plugin_failure(install, cli, tmp_path, inputs):
    plugin = Stopper()
    install(plugin)
    result = cli("run", "retouch", "-m", "stopper", "in")
    assert result.code == 130
    assert result.err == "interrupted\n"
    assert plugin.calls == 2  # the batch stopped there
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["a_stopper_retouch.png"]
    assert not temporaries(tmp_path)
