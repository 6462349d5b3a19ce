"""What a whole ``genedit run upscale`` process costs beyond its compute, normal path against warm path.

Issue 19's target: with a warm cache, the second process adds under 2 s over the pure compute.
The warm path (:mod:`genedit_core.warm`) runs a cached program without importing torch; this
script times both kinds of process on the same request, interleaved so that load from other jobs
hits both alike:

* **cold**: the first process, once: it converts (OpenVINO) and records the warm index;
* **normal**: ``GENEDIT_WARM=0``: the normal path with every cache warm (imports torch, builds
  the model, imports the compiled blob);
* **warm**: the default: the warm path;
* with ``--backend auto`` the table ``genedit bench --compare`` fills is first given this run's
  own compute medians (torch's from ``--backend torch`` processes), as bench would record them.

For each kind it prints the median wall time of the whole process, the median compute time the
process itself logged (``genedit --verbose``: ``computed in X s``, the task on the image without
reading or writing it), the overhead (wall − compute), and whether the process imported torch
(one extra run under ``python -X importtime``, not timed).

    nice -n 10 .venv/bin/python benchmarks/warm_process.py [--size 512 --repeats 3 --threads 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
COMPUTED = re.compile(r"computed in ([0-9.]+) s \((warm path|normal path)\)")


def test_photo(side: int, path: Path) -> None:
    """scikit-image's astronaut cut to ``side``² (public domain), else seeded noise."""
    from PIL import Image

    try:
        from skimage import data

        arr = data.astronaut()[:side, :side, :3]
    except Exception:
        arr = (np.random.default_rng(0).random((side, side, 3)) * 255).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(arr)).save(path)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str, str]:
    """Wall time, logged compute time, which path ran, and stderr of one process."""
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-600:]}")
    found = COMPUTED.findall(proc.stderr)
    if len(found) != 1:
        raise SystemExit(f"expected one 'computed in' line from {' '.join(cmd)}, got {found}")
    return wall, float(found[0][0]), found[0][1], proc.stderr


def imports_torch(cmd: list[str], env: dict[str, str]) -> bool:
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"importtime run failed: {proc.stderr.strip()[-600:]}")
    return any(line.rstrip().endswith("| torch") for line in proc.stderr.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="edsr-baseline")
    parser.add_argument("--scale", type=int, default=2)
    parser.add_argument("--weights", default="bundled")
    parser.add_argument("--size", type=int, default=512, help="side of the square input")
    parser.add_argument("--repeats", type=int, default=3, help="timed processes per kind, interleaved")
    parser.add_argument("--threads", type=int, default=2, help="OMP_NUM_THREADS of every process")
    parser.add_argument("--backend", default="openvino", help="openvino, or auto (the table is filled here)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="genedit-warm-process-"))
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "GENEDIT_CACHE_DIR": str(tmp / "cache")}
    env.pop("GENEDIT_WARM", None)
    os.environ["GENEDIT_CACHE_DIR"] = env["GENEDIT_CACHE_DIR"]  # the --backend auto table goes there
    src = tmp / "input.png"
    test_photo(args.size, src)
    script = str(Path(sys.executable).with_name("genedit"))
    base = [script, "--verbose", "run", "upscale", "-m", args.model, "-s", str(args.scale)]
    base += ["--weights", args.weights, str(src), "--overwrite"]
    converted = "openvino" if args.backend == "auto" else args.backend

    print(
        f"machine      : {os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"request      : {args.model} x{args.scale}, weights {args.weights}, {args.size}² input, {args.threads} threads"
    )
    wall, compute, path, _ = run([*base, "--backend", converted, "-o", str(tmp / "cold.png")], env)
    print(f"cold         : {wall:6.2f} s wall, {compute:6.2f} s compute ({path}; converts and records)")
    kinds: dict[str, tuple[list[str], dict[str, str]]] = {
        f"{converted}, normal path": (["--backend", converted], {**env, "GENEDIT_WARM": "0"}),
    }
    if args.backend == "auto":
        kinds["torch, normal path"] = (["--backend", "torch"], env)
    kinds[f"{args.backend}, warm path"] = (["--backend", args.backend], env)
    results: dict[str, list[tuple[float, float, str]]] = {k: [] for k in kinds}
    for i in range(args.repeats):
        for j, (kind, (flags, kind_env)) in enumerate(kinds.items()):
            if args.backend == "auto" and kind.endswith("warm path") and i == 0:
                record_table(args, results, converted)
            wall, compute, path, _ = run([*base, *flags, "-o", str(tmp / f"p{j}-{i}.png")], kind_env)
            results[kind].append((wall, compute, path))
    for kind, (flags, kind_env) in kinds.items():
        walls = [r[0] for r in results[kind]]
        computes = [r[1] for r in results[kind]]
        paths = sorted({r[2] for r in results[kind]})
        torch = imports_torch([*base, *flags, "-o", str(tmp / "check.png")], kind_env)
        w, c = statistics.median(walls), statistics.median(computes)
        print(
            f"process      : {kind:<26} wall {w:6.2f} s, compute {c:6.2f} s, overhead {w - c:5.2f} s; "
            f"torch imported: {'yes' if torch else 'no'}; ran: {', '.join(paths)}"
        )
    print(f"machine      : load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the end")


def record_table(args: argparse.Namespace, results: dict, converted: str) -> None:
    """Fill the ``--backend auto`` table with this run's compute medians, as bench --compare would."""
    from genedit_core.api import get_card
    from genedit_core.autobackend import record_backend_times
    from genedit_core.device import choose_dtype, dtype_name

    card = get_card(args.model)
    dtype = dtype_name(choose_dtype("auto", _cpu(), card))
    times = {
        "torch": statistics.median(r[1] for r in results["torch, normal path"]) * 1e3,
        converted: statistics.median(r[1] for r in results[f"{converted}, normal path"]) * 1e3,
    }
    record_backend_times(card, args.scale, "cpu", dtype, (args.size, args.size), times)


def _cpu():
    import torch

    return torch.device("cpu")


if __name__ == "__main__":
    main()
