"""One ``run_batch`` on a Ray cluster: each Ray task runs one share, the driver joins the reports.

The Ray path of issue 19 (item 5), as a script rather than a plugin (docs/cli.md, "Many processes
and machines", says why): Ray is not a genedit dependency, so this runs where ``pip install ray``
was done. Each of ``--workers`` Ray tasks calls ``genedit_core.run_batch(..., shard=(i, workers))``
on storage every node sees, exactly as a torchrun process does, and returns its results as plain
entries (``genedit_core.sharding.share_entries``); the driver merges them in input order
(``merge_reports``) and prints the summary. The same split, the same writer: the outputs are those
of one process, byte for byte, which this script checks against an in-process run first.

    pip install ray                                 # ~80 MB wheel, ~260 MB installed
    .venv/bin/python benchmarks/ray_batch.py [--address ray://HOST:10001] [--workers 2] [--images 8]

Without ``--address`` it starts a local Ray instance with ``--workers`` CPUs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_processes import make_inputs, outputs  # noqa: E402

MODEL = {"model": "edsr-baseline", "weights": "bundled", "scale": 2}


def run_share(rank: int, world: int, inputs: str, out_dir: str) -> list[dict]:
    """One Ray task: this share of the batch, in the worker; its results as plain entries."""
    from genedit_core import run_batch
    from genedit_core.sharding import share_entries

    report = run_batch("upscale", inputs, out_dir=out_dir, device="cpu", shard=(rank, world), **MODEL)
    return share_entries(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default=None, help="a running cluster (default: start a local one)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()

    import ray

    from genedit_core import run_batch
    from genedit_core.sharding import merge_reports

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_inputs(root / "in", args.images, args.size)
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # what each Ray task gets: one CPU
        start = time.perf_counter()
        one = run_batch("upscale", root / "in", out_dir=root / "one", device="cpu", **MODEL)
        one_s = time.perf_counter() - start

        start = time.perf_counter()
        if args.address:
            ray.init(address=args.address, log_to_driver=False)
        else:
            ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
        started_s = time.perf_counter() - start
        task = ray.remote(num_cpus=1)(run_share)
        shares = ray.get(
            [task.remote(r, args.workers, str(root / "in"), str(root / "ray")) for r in range(args.workers)]
        )
        ray_s = time.perf_counter() - start
        ray.shutdown()

        merged = merge_reports(one, shares)  # the shares' results, one's provenance
        assert [r.input for r in merged.results] == [r.input for r in one.results], "not in input order"
        assert merged.ok and len(merged.done) == args.images, [r.error for r in merged.failed]
        assert outputs(root / "ray") == outputs(root / "one"), "Ray outputs differ from one process's"

    print(f"{args.images} images {args.size}x{args.size}, edsr-baseline x2, Ray {ray.__version__}")
    print(f"load average (1 min) {os.getloadavg()[0]:.1f}")
    print(f"one process (in this one, model loaded here): {one_s:.1f} s")
    print(
        f"Ray, {args.workers} tasks: {ray_s:.1f} s, of which {started_s:.1f} s to start or join the cluster"
    )
    print(f"{len(merged.done)} of {len(merged.results)} done in input order; outputs byte-identical")


if __name__ == "__main__":
    main()
