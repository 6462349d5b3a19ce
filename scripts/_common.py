"""What the training scripts and benchmarks share: the ``genedit train`` command line and a timed
one-thread run of it.

Written once so that the bundled-weights scripts and the benchmarks train the same way (one
OpenMP/MKL thread: the machine's cores are shared, and one thread avoids contention) and report
CPU time measured the same way. Import it after putting ``scripts/`` on ``sys.path`` (a script run
as ``python scripts/X.py`` has it already).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def train_command(model: str, run: Path, sets: list[str], data: str = "builtin:digits") -> list[str]:
    """``.venv/bin/genedit train MODEL --data DATA --out RUN -q --set S ...``."""
    cmd = [str(ROOT / ".venv/bin/genedit"), "train", model, "--data", data, "--out", str(run), "-q"]
    for s in sets:
        cmd += ["--set", s]
    return cmd


def run_one_thread(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` on one thread (failing loudly); return (wall minutes, CPU minutes of the process)."""
    t0 = time.perf_counter()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env={**os.environ, **ONE_THREAD})
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / 60
    return (time.perf_counter() - t0) / 60, cpu
