"""Jobs: records in SQLite, a bounded queue, one worker thread per device, a small model cache.

Why SQLite (the standard library's): a restart of the server keeps every finished job and its
results, and a job that was queued or running when the process died is marked failed with a line
that says so, instead of vanishing or being reported as still running. Every job owns one folder
under the server's work folder (``jobs/<id>/in`` for its uploads, ``jobs/<id>/out`` for what the
model wrote); nothing a request says can name another path.

The worker runs jobs through :func:`genedit_core.sdk.run_batch` (the code ``genedit run`` uses), so
outputs get the same names, checks and provenance as on the command line. Models stay loaded in a
least-recently-used cache: loading is the slow part of a small job.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import shutil
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("genedit.serve")

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    task TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    provenance TEXT,
    created REAL NOT NULL,
    started REAL,
    finished REAL
)
"""


class QueueFull(Exception):
    """The bounded queue holds as many jobs as it may; the client should retry later."""


@dataclass
class JobSpec:
    """What a job runs: checked by the server before it is queued, so the worker only runs it."""

    task: str
    model: str
    options: dict[str, str] = field(default_factory=dict)
    scale: int | None = None
    weights: str | None = None
    seeds: list[int] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # names inside the job's in/ folder
    uploads: list[str] = field(default_factory=list)  # options whose value is an uploaded image

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})


class JobStore:
    """The job records (one SQLite file) and the job folders next to it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.jobs_dir = workdir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(workdir / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def mark_interrupted(self) -> int:
        """Jobs a previous process left queued or running are failed now; returns how many."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state='failed', error=?, finished=? WHERE state IN ('queued', 'running')",
                ("interrupted: the server stopped before this job finished; submit it again", time.time()),
            )
            return cur.rowcount

    def folder(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def new(self, spec: JobSpec, job_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, state, task, model, request, created) VALUES (?, 'queued', ?, ?, ?, ?)",
                (job_id, spec.task, spec.model, spec.to_json(), time.time()),
            )

    def update(self, job_id: str, **fields: Any) -> None:
        for key in ("outputs", "provenance"):
            if key in fields and not isinstance(fields[key], str) and fields[key] is not None:
                fields[key] = json.dumps(fields[key], sort_keys=True)
        names = ", ".join(f"{k}=?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {names} WHERE id=?", (*fields.values(), job_id))

    def claim(self, job_id: str) -> bool:
        """queued -> running, for the worker about to run it; False if it is no longer queued."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state='running', started=? WHERE id=? AND state='queued'",
                (time.time(), job_id),
            )
            return cur.rowcount == 1

    def cancel(self, job_id: str) -> bool:
        """queued -> cancelled; False if a worker has taken it already."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state='cancelled', finished=? WHERE id=? AND state='queued'",
                (time.time(), job_id),
            )
            return cur.rowcount == 1

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            return None
        job = dict(row)
        job["request"] = json.loads(job["request"])
        job["outputs"] = json.loads(job["outputs"])
        job["provenance"] = json.loads(job["provenance"]) if job["provenance"] else None
        return job

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
        shutil.rmtree(self.folder(job_id), ignore_errors=True)

    def count(self, *states: str) -> int:
        marks = ", ".join("?" for _ in states)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM jobs WHERE state IN ({marks})", states).fetchone()[
                0
            ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def new_job_id() -> str:
    return uuid.uuid4().hex


class ModelCache:
    """The ``size`` models used last, loaded once each (key: name, scale, weights, device)."""

    def __init__(self, size: int, device: str) -> None:
        self.size = max(1, size)
        self.device = device
        self._models: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    def get(self, name: str, scale: int | None, weights: str | None) -> Any:
        from genedit_core.sdk import load

        key = (name, scale, weights, self.device)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = load(name, scale=scale, weights=weights, device=self.device)
        self._models[key] = model
        while len(self._models) > self.size:
            self._models.popitem(last=False)
        return model

    @property
    def loaded(self) -> list[str]:
        return [k[0] for k in self._models]


class Runner:
    """The bounded queue and its workers: one thread per device, so jobs on a device run one at a time.

    Every worker takes the next job from the one queue and keeps its own model cache on its device.
    A job changes state only through :meth:`JobStore.claim` and :meth:`JobStore.cancel`, both
    conditional updates, so a job cancelled while a worker takes it either runs or is cancelled,
    never both.
    """

    def __init__(
        self,
        store: JobStore,
        *,
        devices: tuple[str, ...] = ("auto",),
        queue_size: int = 16,
        cache_size: int = 2,
        debug: bool = False,
        run: Callable[[JobStore, str, JobSpec, ModelCache], None] | None = None,
    ) -> None:
        self.store = store
        self.devices = tuple(dict.fromkeys(devices)) or ("auto",)  # one worker per distinct device
        self.debug = debug
        self._queue: queue.Queue[tuple[str, JobSpec]] = queue.Queue(maxsize=max(1, queue_size))
        self._run = run or run_job
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._work, args=(ModelCache(cache_size, d),), name=f"genedit-serve-{d}", daemon=True
            )
            for d in self.devices
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job_id: str, spec: JobSpec) -> None:
        """Record and queue the job; :class:`QueueFull` when the queue is at its bound."""
        if self._queue.full():
            raise QueueFull
        self.store.new(spec, job_id)
        try:
            self._queue.put_nowait((job_id, spec))
        except queue.Full:
            self.store.delete(job_id)
            raise QueueFull from None

    def full(self) -> bool:
        return self._queue.full()

    def cancel(self, job_id: str) -> bool:
        """Cancel a job that is still queued (its worker will skip it); False if it already started."""
        return self.store.cancel(job_id)

    def stop(self, timeout: float = 30.0) -> None:
        """Let the running jobs finish (up to ``timeout``); queued ones stay queued, and the next
        start on this work folder marks them failed as interrupted."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _work(self, cache: ModelCache) -> None:
        while not self._stop.is_set():
            try:
                job_id, spec = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if not self.store.claim(job_id):  # cancelled (or deleted) while queued
                continue
            try:
                self._run(self.store, job_id, spec, cache)
            except Exception as exc:  # one job's failure never stops the worker
                if self.debug:
                    log.exception("job %s failed", job_id)
                # the job's own files by their names in it: a reply names no server path
                error = describe(exc).replace(f"{self.store.folder(job_id)}{os.sep}", "")
                self.store.update(job_id, state="failed", error=error, finished=time.time())
            else:
                self.store.update(job_id, state="done", progress=1.0, finished=time.time())


def describe(exc: BaseException) -> str:
    """One line for a failure: a GeneditError's own message, else what it was (never a traceback)."""
    from genedit_core.sdk import GeneditError

    if isinstance(exc, GeneditError):
        text = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        text = (
            f"unexpected {type(exc).__name__}: {first}".rstrip(": ")
            + " (the server's --debug logs the traceback)"
        )
    return " ".join(text.split())


def run_job(store: JobStore, job_id: str, spec: JobSpec, cache: ModelCache) -> None:
    """Run one job: generate from seeds, or run_batch over its uploads into its out/ folder."""
    from genedit_core.sdk import BatchProgress

    folder = store.folder(job_id)
    out_dir = folder / "out"
    model = cache.get(spec.model, spec.scale, spec.weights)
    if spec.task == "generate":
        outputs, provenance = _generate(model, spec, out_dir)
        store.update(job_id, outputs=outputs, provenance=provenance)
        return

    from genedit_core.sdk import run_batch

    class Progress(BatchProgress):
        """Fraction done: finished inputs, plus the tiles of the one running."""

        def __init__(self) -> None:
            self.total, self.done = 1, 0

        def start(self, total: int, model: Any) -> None:
            self.total = max(1, total)

        def image(self, src: Path) -> Callable[[int, int], None]:
            def on_tile(done: int, total: int) -> None:
                store.update(job_id, progress=(self.done + done / max(1, total)) / self.total)

            return on_tile

        def file_done(self, result: Any) -> None:
            self.done += 1
            store.update(job_id, progress=self.done / self.total)

    inputs = [folder / "in" / name for name in spec.inputs]
    report = run_batch(
        spec.task, inputs, model=model, out_dir=out_dir, options=spec.options, progress=Progress()
    )
    if report.failed:
        raise _JobFailed(report.failed[0].error or "failed")
    outputs = [p.relative_to(out_dir).as_posix() for p in report.outputs]
    store.update(job_id, outputs=outputs, provenance=report.provenance)


class _JobFailed(Exception):
    """An input failed in run_batch; its one line (naming the file) is the job's error."""


def _generate(model: Any, spec: JobSpec, out_dir: Path) -> tuple[list[str], dict[str, Any]]:
    """One PNG per seed, plus a grid when there are several; provenance in each PNG's text chunk."""
    import numpy as np
    from PIL import Image, PngImagePlugin

    from genedit_core.sdk import __version__, dtype_name, make_grid

    images = model.generate(spec.seeds, **spec.options)
    provenance = {
        "genedit": __version__,
        "task": "generate",
        "model": model.card.name,
        "weights": model.weights.origin if model.weights else None,
        "weights_sha256": model.weights.sha256 if model.weights else None,
        "device": str(model.device),
        "dtype": dtype_name(model.dtype),
        "params": spec.options,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    arrays = images.detach().float().clamp(0, 1).cpu().numpy()
    named = [
        (f"{model.card.name}_seed{seed}.png", arrays[i : i + 1], {"seed": seed})
        for i, seed in enumerate(spec.seeds)
    ]
    if len(spec.seeds) > 1:
        named.append((f"{model.card.name}_grid.png", arrays, {"seeds": spec.seeds}))
    outputs = []
    for name, batch, extra in named:
        pixels = (
            make_grid(batch, pad=2 if len(batch) > 1 else 0)
            if len(batch) > 1
            else batch[0].transpose(1, 2, 0)
        )
        arr = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
        image = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
        info = PngImagePlugin.PngInfo()
        info.add_text("genedit", json.dumps({**provenance, **extra}, sort_keys=True))
        image.save(out_dir / name, pnginfo=info)
        outputs.append(name)
    return outputs, provenance
