"""``genedit run ... --ray ADDRESS``: one batch as Ray tasks, one share each (genedit_core.raybatch).

The task plan (how many shares, what each asks Ray for) and a lost task's share are checked as
functions; a request that is wrong is refused before Ray is needed at all. Then once for real, on a
local Ray instance with 2 CPUs: ``genedit run --ray local --ray-tasks 2`` over the toy resize
plugin with one bad input must write exactly what one process writes, byte for byte, each file
once, report the bad file once and exit 1; a rerun with ``--skip-existing`` and 3 tasks does only
what is missing. Ray is in the ``test`` extra, so CI runs it; without Ray that test skips and says so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_plugin import ResizePlugin, toy_site

from genedit_core.batch import BatchProgress, run_batch
from genedit_core.errors import UsageError
from genedit_core.raybatch import _lost_share, check_reachable, plan_tasks, run_batch_ray
from genedit_core.sharding import shard_items


def png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(path)
    return path


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- the plan ------------------------------------------------------------------------------------------


def test_one_task_per_cpu_or_gpu_never_more_than_files():
    cpus = {"CPU": 8.0}
    assert plan_tasks("auto", cpus, files=100) == plan_tasks("cpu", cpus, files=100)
    assert plan_tasks("auto", cpus, files=100).tasks == 8 and plan_tasks("auto", cpus, 100).device == "cpu"
    assert plan_tasks("cpu", cpus, files=3).tasks == 3  # an empty share would load the model for nothing
    assert plan_tasks("cpu", cpus, files=0).tasks == 1
    two = plan_tasks("cpu", cpus, files=100, tasks=2)
    assert (two.tasks, two.num_cpus, two.num_gpus) == (2, 4, 0)  # the CPUs split evenly
    gpus = {"CPU": 32.0, "GPU": 4.0}
    for device in ("auto", "cuda"):
        p = plan_tasks(device, gpus, files=100)
        assert (p.tasks, p.num_cpus, p.num_gpus, p.device) == (4, 1, 1, "cuda")
    assert plan_tasks("cpu", gpus, files=100).num_gpus == 0  # --device cpu keeps off the GPUs


@pytest.mark.parametrize(
    "device,cluster,tasks,match",
    [
        ("cuda", {"CPU": 4.0}, None, "has no GPU"),
        ("cuda:1", {"CPU": 4.0, "GPU": 2.0}, None, "use --device cuda"),
        ("cpu", {"CPU": 4.0}, 0, "expected at least 1"),
    ],
)
def test_a_plan_that_cannot_run_is_refused(device, cluster, tasks, match):
    with pytest.raises(UsageError, match=match):
        plan_tasks(device, cluster, files=10, tasks=tasks)


def test_a_lost_task_leaves_no_file_unreported():
    files = [Path(f"in/p{i}.png") for i in range(7)]
    share = shard_items(files, 1, 3)  # p1, p4
    sent = [{"inputs": ["in/p1.png"], "status": "ok", "outputs": ["o/p1.png"], "size": [2, 2],
             "error": None, "seconds": 0.1}]  # fmt: skip
    seen = []

    class Seen(BatchProgress):
        def file_done(self, result):
            seen.append(result)

    entries = _lost_share(1, "WorkerCrashedError: gone", files, 3, False, sent, Seen())
    assert [e["inputs"] for e in entries] == [[str(p)] for p in share]  # each once, in order
    assert entries[0]["status"] == "ok" and entries[1]["status"] == "failed"
    assert entries[1]["error"] == "in/p4.png: Ray task 1 was lost: WorkerCrashedError: gone"
    assert [r.input for r in seen] == [Path("in/p4.png")]  # shown as it is found out
    group = _lost_share(0, "gone", files, 1, True, [], Seen())
    assert len(group) == 1 and group[0]["inputs"] == [str(p) for p in files]


def test_an_address_where_nothing_answers_is_refused_at_once():
    with pytest.raises(UsageError, match="nothing answers there"):
        check_reachable("ray://127.0.0.1:1", timeout=2)
    check_reachable("auto")  # left to Ray


@pytest.fixture
def resize(install):
    return install(ResizePlugin())


def test_wrong_requests_are_refused_before_ray_and_a_missing_ray_says_how(resize, tmp_path, monkeypatch):
    png(tmp_path / "in" / "a.png", 0)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(UsageError, match="does not do 'denoise'"):  # checked here first
        run_batch_ray("denoise", tmp_path / "in", model="resize", address="local")
    with pytest.raises(UsageError, match=re.escape("pip install 'genedit[ray]'")):
        run_batch_ray("upscale", tmp_path / "in", model="resize", scale=2, address="local")
    with pytest.raises(UsageError, match="model must be a name"):
        run_batch_ray("upscale", tmp_path / "in", model=object(), address="local")
    assert not (tmp_path / "results").exists()


# -- a local Ray instance, for real --------------------------------------------------------------------


def test_ray_tasks_match_one_process_and_report_a_bad_file_once(resize, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'genedit[ray]')")
    inputs = [png(tmp_path / "in" / f"p{i:02d}.png", seed=i) for i in range(5)]
    run_batch("upscale", inputs, model="resize", scale=2, out_dir=tmp_path / "one")
    bad = tmp_path / "in" / "p03.png"  # task 1's second file
    good = bad.read_bytes()
    bad.write_bytes(b"not an image")

    env = {**os.environ, **toy_site(tmp_path / "site"), "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    for name in ("RANK", "WORLD_SIZE", "RAY_ADDRESS"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "genedit_cli", "run", "upscale", "-m", "resize", "-s", "2", "in",
           "--out-dir", "ray", "--ray", "local", "--ray-tasks", "2"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)

    assert proc.returncode == 1, proc.stderr  # a file failed
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: in/p03.png: cannot read image (cannot identify image file 'in/p03.png')"]
    summaries = [line for line in proc.stderr.splitlines() if "image(s) done" in line]
    assert summaries == ["4 of 5 image(s) done with resize x2 on cpu (fp32); 1 failed (2 Ray tasks)"]
    done = re.findall(r"^in/(p\d+\.png) -> ray/", proc.stdout, flags=re.M)
    assert sorted(done) == ["p00.png", "p01.png", "p02.png", "p04.png"]  # each once, none missed
    expected = contents(tmp_path / "one")
    assert contents(tmp_path / "ray") == {k: v for k, v in expected.items() if k != "p03_resize_x2.png"}

    # resume with another task count: the bad file mended and one output gone; only those two run
    bad.write_bytes(good)
    (tmp_path / "ray" / "p01_resize_x2.png").unlink()
    cmd[-1] = "3"
    proc = subprocess.run([*cmd, "--skip-existing", "--json"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [r["input"] for r in report["results"]] == [f"in/p{i:02d}.png" for i in range(5)]  # input order
    assert [r["status"] for r in report["results"]] == ["skipped", "ok", "skipped", "ok", "skipped"]
    assert report["failed"] == 0 and report["device"] == "cpu"
    assert contents(tmp_path / "ray") == expected  # byte-identical to one process, provenance too
