"""One batch across processes: the round-robin split, sharded ``run_batch``, and ``torchrun`` itself.

The split is checked as a function (disjoint, complete, balanced, the same every time, for every
size and process count), then through ``run_batch(shard=...)`` in this process (each share writes
only its files, the shares together write what one process writes, byte for byte, and
``skip_existing`` resumes with another process count), and once for real: ``torchrun
--nproc-per-node 2 -m genedit_cli run`` over the toy resize plugin, on CPU, with one bad input.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_plugin import ResizePlugin, toy_site

from genedit_core.batch import FileResult, run_batch
from genedit_core.errors import UsageError
from genedit_core.sharding import (
    Shard,
    check_rendezvous,
    gather_report,
    merge_reports,
    shard_device,
    shard_items,
)


def png(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(path)
    return path


def photos(folder: Path, n: int) -> list[Path]:
    return [png(folder / f"p{i:02d}.png", seed=i) for i in range(n)]


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# -- the split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7])
def test_shares_are_disjoint_complete_balanced_and_deterministic(world):
    for n in range(0, 23):
        items = [f"f{i}" for i in range(n)]
        shares = [shard_items(items, rank, world) for rank in range(world)]
        flat = [x for share in shares for x in share]
        assert sorted(flat) == sorted(items) and len(flat) == len(set(flat)) == n  # each exactly once
        assert max(map(len, shares)) - min(map(len, shares)) <= 1
        assert shares == [shard_items(list(items), rank, world) for rank in range(world)]
        for share in shares:  # each keeps the input order
            assert share == sorted(share, key=items.index)


def test_round_robin_so_a_sorted_folder_spreads_evenly():
    assert shard_items(list(range(10)), 1, 3) == [1, 4, 7]
    assert Shard(0, 2).share([1, 2, 3], whole=True) == [1, 2, 3]  # a group task: rank 0 takes it
    assert Shard(1, 2).share([1, 2, 3], whole=True) == []


@pytest.mark.parametrize("rank,world", [(2, 2), (-1, 2), (0, 0)])
def test_a_rank_outside_the_world_is_refused(rank, world):
    with pytest.raises(UsageError, match="expected 0 <= rank < world size"):
        shard_items([1, 2], rank, world)


def test_shard_from_torchrun_environment():
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert Shard.from_env(env) == Shard(3, 4, 1, 2)
    assert Shard.from_env({}) == Shard() and not Shard.from_env({"WORLD_SIZE": "1", "RANK": "0"}).enabled
    with pytest.raises(UsageError, match="RANK is not set"):
        Shard.from_env({"WORLD_SIZE": "2"})
    with pytest.raises(UsageError, match="WORLD_SIZE='two'"):
        Shard.from_env({"WORLD_SIZE": "two"})


def test_each_local_process_takes_its_own_gpu():
    second = Shard(3, 4, 1, 2)
    assert shard_device("auto", second, cuda_count=2) == "cuda:1"
    assert shard_device("cuda", second, cuda_count=4) == "cuda:1"
    assert shard_device("auto", second, cuda_count=1) == "auto"  # fewer GPUs than processes: as alone
    assert shard_device("cuda:0", second, cuda_count=2) == "cuda:0"  # asked for by name: kept
    assert shard_device("cpu", second, cuda_count=2) == "cpu"
    assert shard_device("auto", Shard(), cuda_count=2) == "auto"
    with pytest.raises(UsageError, match="needs 2 GPUs; 1 visible"):
        shard_device("cuda", second, cuda_count=1)


def test_merged_report_is_in_input_order():
    files = [Path(f"f{i}") for i in range(5)]
    shares = [
        [FileResult([f], outputs=[f.with_suffix(".out")]) for f in shard_items(files, r, 2)] for r in (0, 1)
    ]
    plain = [[{"inputs": [str(r.input)], "status": "ok", "outputs": [str(r.output)], "size": [2, 3],
               "error": None, "seconds": 0.5} for r in share] for share in shares]  # fmt: skip
    mine = _report(shares[1])
    merged = merge_reports(mine, plain, Shard(1, 2))
    assert [r.input for r in merged.results] == files
    assert merged.results[1] is shares[1][0]  # this process's own result (with its exception) kept
    assert merged.results[0].size == (2, 3) and mine.results == shares[1]
    driver = merge_reports(_report([]), plain)  # a driver that ran no share (the Ray script)
    assert [r.input for r in driver.results] == files and all(r.exception is None for r in driver.results)


def _report(results):
    from genedit_core.batch import BatchReport

    return BatchReport("upscale", "resize", 2, "cpu", "fp32", {}, results=list(results))


# -- sharded run_batch in this process ---------------------------------------------------------------


@pytest.fixture
def resize(install):
    return install(ResizePlugin())


def test_shares_write_what_one_process_writes(resize, tmp_path):
    photos(tmp_path / "in", 7)
    whole = run_batch("upscale", tmp_path / "in", model="resize", scale=2, out_dir=tmp_path / "one")
    reports = [
        run_batch(
            "upscale", tmp_path / "in", model="resize", scale=2, out_dir=tmp_path / "three", shard=(r, 3)
        )
        for r in range(3)
    ]
    assert [[r.input.name for r in rep.results] for rep in reports] == [
        ["p00.png", "p03.png", "p06.png"],
        ["p01.png", "p04.png"],
        ["p02.png", "p05.png"],
    ]
    assert all(rep.ok for rep in reports) and whole.ok
    assert contents(tmp_path / "three") == contents(tmp_path / "one")  # byte for byte, provenance too
    assert gather_report(reports[0], None) is reports[0]  # one process: nothing to gather

    # resume with another process count: only what is missing is done, by whichever rank owns it
    (tmp_path / "three" / "p04_resize_x2.png").unlink()
    again = [
        run_batch("upscale", tmp_path / "in", model="resize", scale=2, out_dir=tmp_path / "three",
                  shard=(r, 2), skip_existing=True)
        for r in range(2)
    ]  # fmt: skip
    assert [[r.input.name for r in rep.done] for rep in again] == [["p04.png"], []]
    assert sum(len(rep.skipped) for rep in again) == 6
    assert contents(tmp_path / "three") == contents(tmp_path / "one")


def test_every_process_checks_the_whole_list(resize, tmp_path):
    # a clash between inputs of two different shares is refused by each, before any work
    png(tmp_path / "a" / "x.png", 0), png(tmp_path / "b" / "x.png", 1)
    for rank in (0, 1):
        with pytest.raises(UsageError, match="would write the same output file"):
            run_batch("upscale", [tmp_path / "a" / "x.png", tmp_path / "b" / "x.png"], model="resize",
                      scale=2, out_dir=tmp_path / "o", shard=(rank, 2))  # fmt: skip
    assert not (tmp_path / "o").exists()


def test_without_a_launcher_a_sharded_command_is_refused_up_front(monkeypatch):
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(UsageError, match="MASTER_ADDR and MASTER_PORT are not set"):
        check_rendezvous((0, 2))
    check_rendezvous(None)  # one process needs nobody


# -- torchrun, for real ------------------------------------------------------------------------------


def test_torchrun_two_processes_match_one_and_report_a_bad_file_once(resize, tmp_path):
    inputs = photos(tmp_path / "in", 5)
    bad = tmp_path / "in" / "p03.png"  # rank 1's second file
    run_batch("upscale", inputs, model="resize", scale=2, out_dir=tmp_path / "one")
    bad.write_bytes(b"not an image")

    env = {**os.environ, **toy_site(tmp_path / "site"), "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "genedit_cli", "run", "upscale", "-m", "resize", "-s", "2", "in", "--out-dir", "two"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert proc.returncode == 1, proc.stderr  # a file failed on rank 1: every process exits 1
    # torchrun reports a process that exits non-zero with a traceback of its own (ChildFailedError);
    # what genedit printed comes before it and holds none
    ours, _, theirs = proc.stderr.partition("Traceback (most recent call last):")
    assert "Traceback" not in theirs and "torch/distributed/run.py" in theirs, proc.stderr
    errors = [line for line in ours.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: in/p03.png: "), proc.stderr
    summaries = [line for line in proc.stderr.splitlines() if "image(s) done" in line]
    assert summaries == ["4 of 5 image(s) done with resize x2 on cpu (fp32); 1 failed (2 processes)"]
    done = re.findall(r"^in/(p\d+\.png) -> two/", proc.stdout, flags=re.M)
    assert sorted(done) == ["p00.png", "p01.png", "p02.png", "p04.png"]  # each once, none missed
    expected = contents(tmp_path / "one")
    del expected["p03_resize_x2.png"]
    assert contents(tmp_path / "two") == expected  # byte-identical to one process
