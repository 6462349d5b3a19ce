"""One batch on a Ray cluster: ``genedit run ... --ray ADDRESS`` and :func:`run_batch_ray`.

The same split as torchrun (:mod:`genedit_core.sharding`), run by Ray instead of by processes
started on every machine: the driver (the ``genedit run`` on this machine) checks the whole request
once (:func:`~genedit_core.batch.plan_batch`, so a wrong one is exit 2 before Ray starts), then
starts one Ray task per share. Task ``i`` of ``N`` calls :func:`~genedit_core.batch.run_batch`
with ``shard=(i, N)``, exactly as torchrun's process ``i`` does, so the outputs, their names, their
provenance, the atomic writes and ``skip_existing`` are one code path's, and the outputs are those
of one process byte for byte. Each task loads the model once for its whole share.

As each file is done its result travels to the driver through a Ray queue, which shows it at once
(the ``input -> output`` lines, the bar); each task also returns its share's results, which the
driver merges in input order (:func:`~genedit_core.sharding.merge_reports`) into one report. A
task that dies (a node lost, out of memory) does not lose its files: those it had not reported are
failed entries of the report, naming the task, so every input is in the report exactly once.

Like a multi-node torchrun batch, the inputs and the output folder must be on storage that every
node sees at the same path; each task works in the driver's current folder, so relative paths
mean on every node what they mean here. Ray is optional (``pip install 'genedit[ray]'``) and
imported only here, only when asked for.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .batch import BatchProgress, BatchReport, FileResult, plan_batch
from .errors import GeneditError, UsageError
from .sharding import _result_dict, _result_from, merge_reports, shard_items

LOCAL = "local"
"""``--ray local``: start a Ray instance on this machine for this batch, and stop it after."""

INSTALL_HINT = "pip install 'genedit[ray]'"

ENV_PREFIXES = ("GENEDIT_", "HF_", "HUGGINGFACE_")
"""The driver's settings that each task needs as well (which plugins load, where weights are)."""


@dataclass(frozen=True)
class RayPlan:
    """How many tasks share the batch, and what each asks Ray for."""

    tasks: int
    num_cpus: int
    num_gpus: int
    device: str  # what each task passes to run_batch


def plan_tasks(device: str, cluster: Mapping[str, float], files: int, tasks: int | None = None) -> RayPlan:
    """The shares and each one's resources, from the cluster's totals (``ray.cluster_resources()``).

    With ``--device auto`` or ``cuda`` and GPUs in the cluster, each task takes one GPU (Ray gives
    it its own, which it sees as ``cuda:0``) and the default is one task per GPU; otherwise one task
    per CPU, each on ``cpu`` with the cluster's CPUs split evenly. Never more tasks than files: a
    task loads the model, which an empty share would do for nothing.
    """
    name = str(device).strip().lower()
    gpus, cpus = int(cluster.get("GPU", 0)), max(1, int(cluster.get("CPU", 1)))
    if name.startswith("cuda:"):
        raise UsageError(
            f"--device {device} with --ray: Ray gives each task its own GPU; use --device cuda (or auto)"
        )
    if name == "cuda" and gpus < 1:
        raise UsageError("--device cuda with --ray: the Ray cluster has no GPU (use --device cpu or auto)")
    if tasks is not None and tasks < 1:
        raise UsageError(f"--ray-tasks {tasks}: expected at least 1")
    use_gpu = name in ("auto", "cuda") and gpus >= 1
    n = min(tasks or (gpus if use_gpu else cpus), max(1, files))
    if use_gpu:
        return RayPlan(n, 1, 1, "cuda")
    return RayPlan(n, max(1, cpus // n), 0, "cpu" if name == "auto" else device)


def run_share(
    rank: int, world: int, cwd: str, queue: Any, task: str, inputs: list[str], batch: dict[str, Any]
) -> BatchReport:
    """One Ray task: share ``rank`` of ``world``, run in the driver's folder; its report.

    The report goes back with its results as plain entries (an exception object may not pickle);
    each file's entry went to ``queue`` as soon as it was done.
    """
    from .batch import run_batch

    try:
        import ray

        threads = int(ray.get_runtime_context().get_assigned_resources().get("CPU", 0))
    except Exception:
        threads = 0
    if threads:
        import torch

        torch.set_num_threads(threads)  # the CPUs Ray gave this task, not every core of the node
    here = os.getcwd()
    try:
        os.chdir(cwd)
    except OSError:
        raise GeneditError(
            f"the driver's folder {cwd} is not on this node: with --ray, inputs and outputs must be "
            "on storage every node sees at the same path"
        ) from None
    try:
        report = run_batch(task, inputs, shard=(rank, world), progress=_Relay(queue, rank), **batch)
    finally:
        os.chdir(here)
    return replace(report, results=[_result_from(_result_dict(r)) for r in report.results])


class _Relay(BatchProgress):
    """A task's progress: each file's result to the driver's queue, as soon as it is done."""

    def __init__(self, queue: Any, rank: int) -> None:
        self.queue, self.rank = queue, rank

    def file_done(self, result: FileResult) -> None:
        self.queue.put((self.rank, _result_dict(result)))


def run_batch_ray(
    task: str,
    inputs: str | Path | list[str] | list[Path],
    *,
    address: str,
    tasks: int | None = None,
    progress: BatchProgress | None = None,
    options: Mapping[str, Any] | None = None,
    **batch: Any,
) -> tuple[BatchReport, int]:
    """:func:`~genedit_core.batch.run_batch` over a Ray cluster; the merged report and the task count.

    ``address`` is what ``ray.init`` takes (``auto`` for the cluster this machine is part of,
    ``ray://HOST:10001``, ``HOST:6379``), or ``local`` to start a Ray instance here with ``tasks``
    CPUs (default: every core) for this batch. ``tasks`` is the number of shares (default: one per
    GPU, or per CPU, of the cluster; see :func:`plan_tasks`). ``batch`` takes ``run_batch``'s
    keywords, but ``model`` must be a name: each task loads it on its own node. ``progress`` is
    called on this machine, in the order of :class:`~genedit_core.batch.BatchProgress`, as
    results arrive (``start`` gets no model: none is loaded here).
    """
    model = batch.get("model")
    if not isinstance(model, str):
        raise UsageError("run_batch_ray: model must be a name (each Ray task loads it on its node)")
    if "shard" in batch:
        raise UsageError("run_batch_ray: no shard argument; Ray's tasks are the shards")
    progress = progress or BatchProgress()
    checks = {k: batch[k] for k in _PLAN_KEYS if k in batch}
    plan = plan_batch(task, inputs, options=options, **checks)
    files = plan.inputs.files
    ray = _import_ray()
    progress.planned(plan.inputs)

    joined = ray.is_initialized()  # a script of its own that already joined a cluster: use that one
    if not joined:
        _init(ray, address, tasks)
    try:
        rp = plan_tasks(batch.get("device", "auto"), ray.cluster_resources(), len(files), tasks)
        world = 1 if plan.group else rp.tasks
        return _drive(ray, task, inputs, plan, files, world, rp, progress, options, batch), world
    finally:
        if not joined:
            ray.shutdown()


def _init(ray: Any, address: str, tasks: int | None) -> None:
    """Start a local instance (``local``, whatever ``RAY_ADDRESS`` says) or join ``address``."""
    local = address.strip().lower() == LOCAL
    if not local:
        check_reachable(address)
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if local:
            ray.init(address=LOCAL, num_cpus=tasks or os.cpu_count() or 1, include_dashboard=False, **quiet)
        else:
            env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIXES)}
            ray.init(address=address, runtime_env={"env_vars": env} if env else None, **quiet)
    except Exception as exc:
        raise UsageError(f"--ray {address}: could not start or join Ray: {_first_line(exc)}") from None


_PLAN_KEYS = (
    "model",
    "out_dir",
    "output",
    "device",
    "dtype",
    "tile",
    "tile_overlap",
    "ext",
    "recursive",
    "overwrite",
    "skip_existing",
    "max_pixels",
)


def _drive(
    ray: Any,
    task: str,
    inputs: Any,
    plan: Any,
    files: list[Path],
    world: int,
    rp: RayPlan,
    progress: BatchProgress,
    options: Mapping[str, Any] | None,
    batch: dict[str, Any],
) -> BatchReport:
    """Start the tasks, show each result as it comes, and merge the shares in input order."""
    from ray.util.queue import Queue

    queue = Queue(actor_options={"num_cpus": 0})
    items = [str(p) for p in inputs] if isinstance(inputs, (list, tuple)) else [str(inputs)]
    kwargs = {**batch, "device": rp.device, "options": dict(options or {})}
    remote = ray.remote(num_cpus=rp.num_cpus, num_gpus=rp.num_gpus, max_retries=0)(run_share)
    refs = {
        remote.remote(rank, world, os.getcwd(), queue, task, items, kwargs): rank for rank in range(world)
    }
    shown: dict[int, list[dict[str, Any]]] = {rank: [] for rank in range(world)}
    progress.start(1 if plan.group else len(files), None)

    def show(entries: list[tuple[int, dict[str, Any]]]) -> None:
        for rank, entry in entries:
            shown[rank].append(entry)
            progress.file_done(_result_from(entry))

    def drain() -> None:
        waiting = queue.size()  # this driver is the only reader: they are all there
        if waiting:
            show(queue.get_nowait_batch(waiting))

    reports: dict[int, BatchReport] = {}
    lost: dict[int, str] = {}
    pending = dict(refs)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.25)
            drain()
            for ref in ready:
                rank = pending.pop(ref)
                try:
                    reports[rank] = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:
                    # run_batch itself raised (a bad option, weights that do not load): wrong for
                    # the whole batch, as in one process; say it once and stop the other tasks
                    raise (exc.cause or exc) from None
                except Exception as exc:  # the task was lost: its worker or node died
                    lost[rank] = _first_line(exc)
        drain()
        shares = [
            [_result_dict(r) for r in reports[rank].results]
            if rank in reports
            else _lost_share(rank, lost[rank], files, world, plan.group, shown[rank], progress)
            for rank in range(world)
        ]
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    finally:
        progress.finish()
    if not reports:
        raise GeneditError(f"every Ray task was lost; the first: {lost[0]}")
    header = next(iter(reports.values()))
    return merge_reports(replace(header, results=[]), shares)


def _lost_share(
    rank: int,
    why: str,
    files: list[Path],
    world: int,
    group: bool,
    shown: list[dict[str, Any]],
    progress: BatchProgress,
) -> list[dict[str, Any]]:
    """A lost task's share: the results it had sent, then every other file of it as failed, so
    that each input is in the report once and a rerun with ``--skip-existing`` does the rest."""
    share = files if group else shard_items(files, rank, world)
    entries = list(shown)
    reported = {Path(e["inputs"][0]) for e in entries}
    # a group task has one result for all its inputs
    missing = ([] if entries else [share]) if group else [[s] for s in share if s not in reported]
    for srcs in missing:
        failed = FileResult(list(srcs), status="failed", error=f"{srcs[0]}: Ray task {rank} was lost: {why}")
        entries.append(_result_dict(failed))
        progress.file_done(failed)
    return entries


def check_reachable(address: str, timeout: float = 10.0) -> None:
    """Refuse an address nothing answers at, at once: Ray itself would retry it for minutes,
    printing a warning every few seconds. ``auto`` (and any address without a port) is left to
    Ray, which finds the cluster or fails quickly."""
    import socket

    host, sep, port = address.strip().removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise UsageError(
            f"--ray {address}: nothing answers there ({exc.strerror or exc}); start the cluster "
            "with 'ray start --head', or use --ray local"
        ) from None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
