"""Throughput of one ``genedit run`` batch in 1 process against ``torchrun`` with 2 (issue 19, item 5).

Both sides run the same command as fresh processes over the same folder of images, interleaved
(1, 2, 1, 2, ...) so that load from other jobs on the machine hits both alike; each side's median
wall time, start-up and model load included (what a user waits for), gives images per second,
and the ratio is printed with the machine's core count and load average. The threads are split
fairly: the single process gets every core (``OMP_NUM_THREADS`` = cores), each of the P processes
cores / P. Every run's outputs are compared byte for byte with the first single-process run's, and
each input must have exactly one output.

    .venv/bin/python benchmarks/batch_processes.py [--images 16] [--size 128] [--runs 2] [--procs 2]

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
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

MODEL = ["upscale", "-m", "edsr-baseline", "--weights", "bundled", "-s", "2"]


def make_inputs(folder: Path, n: int, size: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):  # smooth gradients plus a little noise: photo-like, not pure noise
        base = np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), np.sin(4 * (xx + yy) + 2 * i)], -1)
        pix = 0.5 + 0.4 * base + 0.05 * rng.standard_normal((size, size, 3))
        Image.fromarray((np.clip(pix, 0, 1) * 255).astype(np.uint8)).save(folder / f"img{i:03d}.png")


def run(procs: int, inputs: Path, out: Path, cores: int) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // procs))}
    args = ["-m", "genedit_cli", "run", *MODEL, str(inputs), "--out-dir", str(out), "-q"]
    if procs == 1:
        cmd = [sys.executable, *args]
    else:
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(procs),
            *args,
        ]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{procs} process(es) failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return elapsed


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def time_side_by_side(
    run_one: Callable[[int, Path, Path, int], float],
    counts: tuple[int, int],
    root: Path,
    images: int,
    runs: int,
    what: str,
) -> dict[int, list[float]]:
    """Seconds of each run of ``run_one`` for both worker counts, alternating, over ``root/in``.

    Why one function for both benchmarks: each run's outputs must be one per input and byte-identical to
    the first run's, whichever engine split the work; a benchmark that timed a wrong split would lie.
    """
    cores = os.cpu_count() or 1
    times: dict[int, list[float]] = {n: [] for n in counts}
    reference: dict[str, bytes] | None = None
    for i in range(runs):
        for n in counts:
            out = root / f"out-{n}-{i}"
            times[n].append(run_one(n, root / "in", out, cores))
            got = outputs(out)
            assert len(got) == images, f"{what} {n}: {len(got)} outputs for {images} inputs"
            reference = reference or got
            assert got == reference, f"{what} {n}: outputs differ from the first run's"
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_inputs(root / "in", args.images, args.size)
        load_before = os.getloadavg()
        times = time_side_by_side(run, (1, args.procs), root, args.images, args.runs, "processes:")
        load_after = os.getloadavg()

    one, many = statistics.median(times[1]), statistics.median(times[args.procs])
    print(
        f"{args.images} images {args.size}x{args.size}, edsr-baseline x2, {cores} cores, {args.runs} runs each"
    )
    print(f"load average (1 min) {load_before[0]:.1f} before, {load_after[0]:.1f} after")
    print("| processes | threads each | median wall (s) | images/s |")
    print("|---|---|---|---|")
    for procs, t in ((1, one), (args.procs, many)):
        print(f"| {procs} | {max(1, cores // procs)} | {t:.1f} | {args.images / t:.2f} |")
    print(f"scaling 1 -> {args.procs} processes: {one / many:.2f}x; outputs byte-identical, one per input")


if __name__ == "__main__":
    main()
