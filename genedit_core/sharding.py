"""One batch across many processes and machines: each process takes its share of the inputs.

``torchrun --nproc-per-node P -m genedit_cli run ...`` starts P copies of the same command. Each
expands the same inputs to the same ordered list, so the split needs no talking: process ``rank`` of
``world`` takes the files at positions ``rank, rank + world, rank + 2·world, ...`` (round-robin,
so a folder sorted by size or by scene still spreads evenly). Every file is done by exactly one
process, the same one on every run with the same inputs and process count, and each process writes
only its own outputs. ``skip_existing`` resumes with any process count: it asks for each output
whether it is there, not who wrote it.

The processes talk once, at the end: :func:`gather_report` joins a gloo process group (CPU is
enough, whatever device ran the model) and every process gets the report of all of them, so rank 0
can show the whole batch and every process can exit non-zero when a file failed anywhere.

Torch-free until :func:`gather_report`, so the split can be planned (and tested) without it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import UsageError

if TYPE_CHECKING:
    from .batch import BatchReport

T = TypeVar("T")

GATHER_TIMEOUT = timedelta(hours=24)
"""How long the first process to finish waits for the last (a share may take hours more)."""


@dataclass(frozen=True)
class Shard:
    """This process's place among the processes of one batch: ``rank`` of ``world`` in all, and
    ``local_rank`` of ``local_world`` on this machine (which GPU it takes)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    def __post_init__(self) -> None:
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise UsageError(f"shard {self.rank} of {self.world}: expected 0 <= rank < world size")
        if self.local_world < 1 or not 0 <= self.local_rank < self.local_world:
            raise UsageError(
                f"local rank {self.local_rank} of {self.local_world}: expected 0 <= local rank < local size"
            )

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, items: Sequence[T], *, whole: bool = False) -> list[T]:
        """This process's items (:func:`shard_items`); with ``whole`` (work that cannot be split)
        all of them on rank 0 and none elsewhere."""
        if whole:
            return list(items) if self.is_main else []
        return shard_items(items, self.rank, self.world)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Shard:
        """The shard torchrun (or any launcher setting ``RANK``/``WORLD_SIZE``) gave this process;
        one process alone when ``WORLD_SIZE`` is unset or 1."""
        env = os.environ if environ is None else environ

        def number(name: str, default: int) -> int:
            text = env.get(name, "")
            if not text.strip():
                return default
            try:
                return int(text)
            except ValueError:
                raise UsageError(f"{name}={text!r} in the environment: expected a whole number") from None

        world = number("WORLD_SIZE", 1)
        if world <= 1:
            return cls()
        rank = number("RANK", -1)
        if rank < 0:
            raise UsageError(f"WORLD_SIZE={world} but RANK is not set: start the processes with torchrun")
        local_world = number("LOCAL_WORLD_SIZE", world)
        return cls(rank, world, number("LOCAL_RANK", rank % local_world), local_world)

    @classmethod
    def of(cls, shard: Shard | tuple[int, int] | None) -> Shard:
        """``run_batch``'s ``shard`` argument as a Shard: ``None`` is one process alone, and a
        ``(rank, world)`` pair counts every process as on this machine (``cuda:rank`` each)."""
        if shard is None:
            return cls()
        if isinstance(shard, Shard):
            return shard
        rank, world = shard
        return cls(int(rank), int(world), int(rank), int(world))


def shard_items(items: Sequence[T], rank: int, world: int) -> list[T]:
    """The items process ``rank`` of ``world`` takes: positions ``rank, rank + world, ...``.

    Deterministic for a given order; over all ranks the shares are disjoint and cover every item,
    and their sizes differ by at most one.
    """
    Shard(rank, world)  # the same checks and message
    return list(items[rank::world])


def shard_device(device: str, shard: Shard, cuda_count: int) -> str:
    """The device this process asks for: with several processes on a machine and ``auto`` (or a
    bare ``cuda``), each takes its own GPU, ``cuda:LOCAL_RANK``, when there is one per process;
    an explicit ``cuda:N``, ``cpu`` or ``mps`` is kept as given."""
    name = str(device).strip().lower()
    if shard.local_world <= 1 or name not in ("auto", "cuda"):
        return device
    if cuda_count >= shard.local_world:
        return f"cuda:{shard.local_rank}"
    if name == "cuda":
        raise UsageError(
            f"--device cuda with {shard.local_world} processes per machine needs {shard.local_world} GPUs; "
            f"{cuda_count} visible (use --nproc-per-node {cuda_count or 1} or --device cpu)"
        )
    return device  # auto: fewer GPUs than processes on this machine, so each chooses as one would


def cuda_count() -> int:
    """GPUs this process sees (0 without CUDA); imports torch, as loading the model does anyway."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# -- the report of all processes -------------------------------------------------------------------


def share_entries(report: BatchReport) -> list[dict[str, Any]]:
    """This process's results as plain entries (paths as text, no exception objects): what
    :func:`merge_reports` takes from the other processes, fit to pickle or send as JSON."""
    return [_result_dict(r) for r in report.results]


def _result_dict(result: Any) -> dict[str, Any]:
    return {
        "inputs": [str(p) for p in result.inputs],
        "status": result.status,
        "outputs": [str(p) for p in result.outputs],
        "size": list(result.size) if result.size is not None else None,
        "error": result.error,
        "seconds": result.seconds,
    }


def _result_from(entry: dict[str, Any]) -> Any:
    from .batch import FileResult

    size = entry["size"]
    return FileResult(
        [Path(p) for p in entry["inputs"]],
        status=entry["status"],
        outputs=[Path(p) for p in entry["outputs"]],
        size=(size[0], size[1]) if size else None,
        error=entry["error"],
        seconds=entry["seconds"],
    )


def merge_reports(
    mine: BatchReport, shares: Sequence[Sequence[dict[str, Any]]], shard: Shard | None = None
) -> BatchReport:
    """One report from every process's results (``shares[rank]``), in the order of the inputs.

    This process keeps its own :class:`~genedit_core.batch.FileResult` objects (with the exception
    each failure raised, for ``--debug``); the others' come as plain entries without it. The split
    is round-robin, so result ``k`` of rank ``r`` is input ``r + k·world``; a group task ran on
    rank 0 alone. Without ``shard`` (a driver that ran no share itself, such as a Ray script)
    every result comes from ``shares`` and ``mine`` gives only the provenance.
    """
    from dataclasses import replace

    own = shard.rank if shard is not None else -1
    results = []
    if mine.group:
        for rank, share in enumerate(shares):
            results += mine.results if rank == own else [_result_from(e) for e in share]
    else:
        longest = max((len(s) for s in shares), default=0)
        for k in range(longest):
            for rank, share in enumerate(shares):
                if k < len(share):
                    results.append(mine.results[k] if rank == own else _result_from(share[k]))
    return replace(mine, results=results)


_groups_joined = 0


def check_rendezvous(shard: Shard | tuple[int, int] | None) -> None:
    """Refuse before any work a sharded batch whose processes could not meet at the end."""
    shard = Shard.of(shard)
    if not shard.enabled:
        return
    import torch.distributed as dist

    if not dist.is_available():
        raise UsageError("this build of torch has no torch.distributed: run the batch in one process")
    if dist.is_initialized():
        return  # a script of its own under torchrun: its group carries the reports
    if not os.environ.get("MASTER_ADDR") or not os.environ.get("MASTER_PORT"):
        raise UsageError(
            f"shard {shard.rank} of {shard.world}: MASTER_ADDR and MASTER_PORT are not set, so the "
            "processes cannot meet to share their reports (start them with torchrun)"
        )


def gather_report(report: BatchReport, shard: Shard | tuple[int, int] | None) -> BatchReport:
    """Every process's results in one report, on every process (``report`` itself for one process).

    Joins the process group the launcher describes (``MASTER_ADDR``/``MASTER_PORT``, as torchrun
    sets them) over gloo, unless one is already up (a script of your own under torchrun), and
    leaves it again; each process must call this once its own share is done. Only the results
    travel: the provenance is the same in every process but for the device.
    """
    global _groups_joined
    shard = Shard.of(shard)
    if not shard.enabled:
        return report
    import torch.distributed as dist

    mine = share_entries(report)
    joined = not dist.is_initialized()
    if joined:
        check_rendezvous(shard)
        store, _, _ = next(
            dist.rendezvous("env://", rank=shard.rank, world_size=shard.world, timeout=GATHER_TIMEOUT)
        )
        # a key prefix per join: a second batch in one process must not find the first one's keys
        prefixed = dist.PrefixStore(f"genedit-batch-{_groups_joined}", store)
        _groups_joined += 1
        dist.init_process_group(
            "gloo", store=prefixed, rank=shard.rank, world_size=shard.world, timeout=GATHER_TIMEOUT
        )
    try:
        shares: list[Any] = [None] * shard.world
        dist.all_gather_object(shares, mine)
    finally:
        if joined:
            dist.destroy_process_group()
    return merge_reports(report, shares, shard)
