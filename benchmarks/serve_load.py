"""Load and faults for ``genedit serve`` (issue 17), on loopback with bounded counts and times.

    .venv/bin/python benchmarks/serve_load.py [--clients 50] [--jobs 200] [--size 64] [--json]

1. **Load.** ``--clients`` threads submit ``--jobs`` small jobs between them (bicubic x2 on a
   ``--size``² image: the work is tiny, so what is measured is the server: upload checks, queue,
   SQLite records, run_batch, result download). A client that meets the queue bound (503) waits
   100 ms and submits again, as a client should; those retries are counted. Reported: latency from
   the first submit to the downloaded result (p50, p95, max), throughput, the server's peak
   resident memory (VmHWM), and the promise checks: every job id distinct, every job done with one
   output, and the server's job folders exactly the ids the clients got (none lost, none extra).
2. **Faults.** A fresh server gets 12 jobs on a larger image; once the first is done, the server is
   killed with SIGKILL mid-queue and started again on the same work folder. Every finished job
   must still be done with its result downloadable; every other one must be failed, saying it was
   interrupted; none may be missing.

Exit status 1 if a promise is broken. Needs genedit-sr (bicubic) and httpx (genedit-serve[test]).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image


def png(size: int, seed: int = 0) -> bytes:
    import numpy as np

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


class Server:
    """``genedit serve --port 0`` as a child process on ``workdir``."""

    def __init__(self, workdir: Path, queue: int) -> None:
        genedit = Path(sys.executable).with_name("genedit")
        env = {**os.environ, "GENEDIT_LOAD_PLUGINS": "sr,serve"}
        cmd = [str(genedit), "serve", "--port", "0", "--device", "cpu", "--workdir", str(workdir)]
        self.proc = subprocess.Popen(
            [*cmd, "--queue", str(queue)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        deadline, self.url = time.monotonic() + 120, None
        while self.url is None:
            line = self.proc.stderr.readline()
            if (not line and self.proc.poll() is not None) or time.monotonic() > deadline:
                raise SystemExit("genedit serve did not start")
            found = re.search(r"listening on (http://\S+?)/?$", line.strip())
            self.url = found.group(1) if found else None
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # keep the pipe drained

    def peak_rss_mb(self) -> float:
        text = Path(f"/proc/{self.proc.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)


def submit(client: httpx.Client, image: bytes, retries: list[int]) -> str:
    files = {"image": ("small.png", image, "image/png")}
    data = {"task": "upscale", "model": "bicubic", "scale": "2"}
    while True:
        r = client.post("/jobs", data=data, files=files)
        if r.status_code != 503:
            r.raise_for_status()
            return r.json()["id"]
        retries.append(1)
        time.sleep(0.1)


def load(args: argparse.Namespace, workdir: Path) -> dict:
    server = Server(workdir, queue=args.queue)
    image = png(args.size)
    retries: list[int] = []
    latencies: list[float] = []
    ids: list[str] = []
    problems: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            started = time.perf_counter()
            job_id = submit(client, image, retries)
            job = client.get(f"/jobs/{job_id}", params={"wait": 60}).json()
            while not job["finished"]:
                job = client.get(f"/jobs/{job_id}", params={"wait": 60}).json()
            result = client.get(f"/jobs/{job_id}/result") if job["state"] == "done" else None
            elapsed = time.perf_counter() - started
            with lock:
                ids.append(job_id)
                latencies.append(elapsed)
                if job["state"] != "done" or len(job["outputs"]) != 1:
                    problems.append(f"job {i}: {job['state']} {job['error']}")
                elif Image.open(io.BytesIO(result.content)).size != (2 * args.size, 2 * args.size):
                    problems.append(f"job {i}: wrong result size")

    try:
        with httpx.Client(base_url=server.url, timeout=120) as warm:  # the model loads once, before timing
            warm_id = submit(warm, image, [])
            warm.get(f"/jobs/{warm_id}", params={"wait": 60})
            warm.delete(f"/jobs/{warm_id}")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            list(pool.map(one, range(args.jobs)))
        wall = time.perf_counter() - started
        peak = server.peak_rss_mb()
    finally:
        server.stop()
    folders = {p.name for p in (workdir / "jobs").iterdir()}
    if len(set(ids)) != len(ids):
        problems.append(f"{len(ids) - len(set(ids))} duplicated job id(s)")
    if len(ids) != args.jobs:
        problems.append(f"{args.jobs - len(ids)} job(s) lost by the clients")
    if folders != set(ids):
        problems.append(
            f"job folders differ from the ids: {len(folders - set(ids))} extra, {len(set(ids) - folders)} missing"
        )
    q = statistics.quantiles(latencies, n=100)
    return {
        "clients": args.clients,
        "jobs": args.jobs,
        "image": f"{args.size}x{args.size}",
        "wall_s": round(wall, 2),
        "jobs_per_s": round(args.jobs / wall, 1),
        "latency_p50_s": round(q[49], 3),
        "latency_p95_s": round(q[94], 3),
        "latency_max_s": round(max(latencies), 3),
        "queue_full_retries": len(retries),
        "peak_rss_mb": round(peak, 1),
        "problems": problems,
    }


def faults(workdir: Path) -> dict:
    server = Server(workdir, queue=64)
    image = png(384, seed=1)
    problems: list[str] = []
    with httpx.Client(base_url=server.url, timeout=120) as client:
        ids = [submit(client, image, []) for _ in range(12)]
        client.get(f"/jobs/{ids[0]}", params={"wait": 60})
        server.stop(signal.SIGKILL)
    server = Server(workdir, queue=64)
    try:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            jobs = [client.get(f"/jobs/{i}") for i in ids]
            missing = [i for i, r in zip(ids, jobs) if r.status_code != 200]
            states = [r.json()["state"] for r in jobs if r.status_code == 200]
            for r in jobs:
                if r.status_code != 200:
                    continue
                job = r.json()
                if job["state"] == "done":
                    if client.get(job["outputs"][0]["url"]).status_code != 200:
                        problems.append(f"{job['id']}: done but its result is gone")
                elif job["state"] != "failed" or not (job["error"] or "").startswith("interrupted"):
                    problems.append(f"{job['id']}: {job['state']} after the restart ({job['error']})")
    finally:
        server.stop()
    if missing:
        problems.append(f"{len(missing)} job(s) missing after the restart")
    return {
        "jobs": len(ids),
        "done_before_kill": states.count("done"),
        "failed_as_interrupted": states.count("failed"),
        "problems": problems,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--size", type=int, default=64, help="side of the square input, pixels")
    parser.add_argument("--queue", type=int, default=16, help="the server's --queue")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        report = {"load": load(args, Path(tmp) / "load"), "faults": faults(Path(tmp) / "faults")}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for part, values in report.items():
            print(f"{part}:")
            for key, value in values.items():
                print(f"  {key:<22} {value if key != 'problems' else (value or 'none')}")
    return 1 if report["load"]["problems"] or report["faults"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
