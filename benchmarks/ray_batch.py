"""Throughput of one ``genedit run`` batch in 1 process against ``genedit run --ray`` with N Ray tasks.

The Ray path of issue 19 (item 5): ``genedit run ... --ray local --ray-tasks N`` starts a Ray
instance on this machine and runs the batch as N tasks, one share of the inputs each (the split
torchrun uses); ``--ray ADDRESS`` does the same on a running cluster. Both sides run as fresh
processes over the same folder, interleaved (1, Ray, 1, Ray, ...) so that load from other jobs
hits both alike; each side's median wall time, start-up, Ray's start and model loads included
(what a user waits for), gives images per second. Threads are split fairly: the single process
gets every core (``OMP_NUM_THREADS`` = cores), each Ray task cores / N (Ray sets it from the task's
CPUs). Every run's outputs are compared byte for byte with the first single-process run's, and
each input must have exactly one output. It also times starting and stopping a bare local Ray
instance once, the fixed cost that the Ray side pays on every command.

    pip install 'genedit[ray]'
    .venv/bin/python benchmarks/ray_batch.py [--images 16] [--size 128] [--runs 2] [--tasks 2]

The model is edsr-baseline x2 with its bundled weights (no download).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_processes import MODEL, make_inputs, time_side_by_side  # noqa: E402


def run(tasks: int, inputs: Path, out: Path, cores: int) -> float:
    """One fresh ``genedit run``: in one process (``tasks`` 0) or as ``tasks`` Ray tasks."""
    env = {**os.environ, "OMP_NUM_THREADS": str(cores)}
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", "genedit_cli", "run", *MODEL, str(inputs), "--out-dir", str(out), "-q"]
    if tasks:
        cmd += ["--ray", "local", "--ray-tasks", str(tasks)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[3:])} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return elapsed


def ray_start_stop(cpus: int) -> float:
    """Seconds to start a bare local Ray instance and stop it again, in this process."""
    import logging

    import ray

    start = time.perf_counter()
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    ray.shutdown()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    import ray

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_inputs(root / "in", args.images, args.size)
        load_before = os.getloadavg()
        # 0 tasks: one plain process, the reference
        times = time_side_by_side(run, (0, args.tasks), root, args.images, args.runs, "Ray tasks:")
        bare = ray_start_stop(args.tasks)
        load_after = os.getloadavg()

    one, many = statistics.median(times[0]), statistics.median(times[args.tasks])
    print(
        f"{args.images} images {args.size}x{args.size}, edsr-baseline x2, {cores} cores, "
        f"Ray {ray.__version__}, {args.runs} runs each"
    )
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print("| command | threads each | median wall (s) | images/s |")
    print("|---|---|---|---|")
    print(f"| genedit run (1 process) | {cores} | {one:.1f} | {args.images / one:.2f} |")
    print(
        f"| genedit run --ray local --ray-tasks {args.tasks} | {max(1, cores // args.tasks)} | "
        f"{many:.1f} | {args.images / many:.2f} |"
    )
    print(
        f"scaling 1 process -> {args.tasks} Ray tasks: {one / many:.2f}x; outputs byte-identical, one per "
        f"input; starting and stopping a bare local Ray instance took {bare:.1f} s"
    )


if __name__ == "__main__":
    main()
