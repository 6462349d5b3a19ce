"""Start-up cost of the CLI: ``genedit list`` against ``python -c "import torch"``.

genedit keeps torch out of ``genedit list`` and ``--help`` (plugins import it inside hook bodies), so
listing the installed models should cost a small fraction of importing torch. Both commands run as
fresh processes, interleaved (list, torch, list, torch, ...) so that load from other jobs on the
machine hits both sides alike; the medians and their ratio are printed. Target: ratio < 0.25.

    .venv/bin/python benchmarks/cli_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 0.25


def genedit_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m genedit_cli``."""
    script = Path(sys.executable).parent / "genedit"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "genedit_cli"]


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return elapsed


def torch_imported_by_list(env: dict[str, str]) -> bool:
    """Does ``genedit list`` import torch? Checked in-process, so the timing above is explained."""
    code = (
        "import sys\n"
        "from genedit_cli.app import main\n"
        "try:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write('TORCH=' + str('torch' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    return "TORCH=True" in done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (median reported)")
    args = parser.parse_args()

    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    listing = [*genedit_command(), "list"]
    torch_cmd = [sys.executable, "-c", "import torch"]
    # one untimed run of each warms the page cache, so the first timed run is not a cold-disk outlier
    wall(listing, env)
    wall(torch_cmd, env)
    t_list: list[float] = []
    t_torch: list[float] = []
    for _ in range(args.runs):
        t_list.append(wall(listing, env))
        t_torch.append(wall(torch_cmd, env))
    m_list, m_torch = statistics.median(t_list), statistics.median(t_torch)
    ratio = m_list / m_torch
    print(f"command      : {' '.join(listing)}  vs  {' '.join(torch_cmd)}")
    print(f"runs         : {args.runs} each, interleaved (after one warm-up run each)")
    print(f"genedit list : median {m_list:.3f} s  (min {min(t_list):.3f}, max {max(t_list):.3f})")
    print(f"import torch : median {m_torch:.3f} s  (min {min(t_torch):.3f}, max {max(t_torch):.3f})")
    print(f"torch imported by 'genedit list': {torch_imported_by_list(env)}")
    verdict = "meets" if ratio < TARGET else "MISSES"
    print(f"ratio        : {ratio:.3f}  ({verdict} the target < {TARGET})")


if __name__ == "__main__":
    main()
