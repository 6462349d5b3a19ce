"""torchrun integration: gloo on CPU, nccl on CUDA; rank 0 writes, metrics are averaged.

Under torchrun the trainer hands a task's ``train_step`` its networks wrapped in
``DistributedDataParallel`` (``ctx.nets``). The wrapper is what all-reduces the gradients, so forward
passes must go through it; but it has none of the network's own attributes or methods. Training code
reads those through :func:`unwrap`, which is the same object in one process and under DDP.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def unwrap(net: nn.Module) -> nn.Module:
    """The network inside any DDP, DataParallel or ``torch.compile`` wrapper (``net`` if none).

    Use it for attributes and helper methods (``unwrap(ctx.nets["model"]).config``); call the
    wrapped network itself for the forward passes of a training step, since calling a method of
    the unwrapped one skips DDP's gradient all-reduce and lets the processes drift apart.
    """
    while True:
        if isinstance(net, (DistributedDataParallel, DataParallel)):
            net = net.module
            continue
        inner = net.__dict__.get("_modules", {}).get("_orig_mod")  # torch.compile's OptimizedModule
        if inner is not None and type(net).__name__ == "OptimizedModule":
            net = inner
            continue
        return net


class _DDP(DistributedDataParallel):
    """DDP whose missing-attribute error says how to reach the network's own attributes."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get("_modules", {}).get("module")
            if inner is None or name.startswith("__") or not hasattr(unwrap(inner), name):
                raise
            raise AttributeError(
                f"'{type(unwrap(inner)).__name__}' network is wrapped in DistributedDataParallel here, "
                f"which has no attribute '{name}': read it as "
                f"genedit_core.training.unwrap(net).{name} (or ctx.raw_nets[name]), and keep "
                "calling the wrapped net for forward passes"
            ) from None


def wrap(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` in DDP for this process's device (one GPU per process, or CPU with gloo)."""
    ids = [device.index] if device.type == "cuda" else None
    return _DDP(net, device_ids=ids)


_groups_joined = 0


def setup(device: torch.device) -> Dist:
    """Join the process group torchrun describes in the environment (no-op for one process).

    Each join uses its own key prefix in torchrun's store: :func:`teardown` destroys the group at
    the end of a run, and a second run in the same process (a script that trains twice) would
    otherwise find the first group's keys there and wait for ever on peers that are gone.
    """
    global _groups_joined
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        store, _, _ = next(dist.rendezvous("env://", rank=rank, world_size=world))
        prefixed = dist.PrefixStore(f"genedit-run-{_groups_joined}", store)
        dist.init_process_group(backend=backend, store=prefixed, rank=rank, world_size=world)
        _groups_joined += 1
    return Dist(rank, world, local_rank)


def average(values: dict[str, float], d: Dist, device: torch.device) -> dict[str, float]:
    if not d.enabled or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    t /= d.world
    return dict(zip(keys, t.tolist()))


def any_rank(flag: bool, d: Dist, device: torch.device) -> bool:
    """True on every process when ``flag`` is true on any: for decisions (stop early) that must
    agree, or the processes would wait on each other's collectives for ever."""
    if not d.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


@torch.no_grad()
def out_of_sync(nets: dict[str, nn.Module], d: Dist, device: torch.device) -> list[str]:
    """Names of the networks whose parameters differ between processes (``[]`` in one process).

    DDP keeps the processes' weights bit-identical as long as every update goes through the
    wrapped networks; a step that trains a network some other way (a method of the unwrapped
    network, a hand-written update) makes them drift apart with no error. Each network is
    fingerprinted by float64 sums of its parameters and their absolute values, compared exactly.
    """
    if not d.enabled or not nets:
        return []
    names = sorted(nets)
    rows = []
    for name in names:
        params = [p.detach().double() for p in unwrap(nets[name]).parameters()]
        total = sum((p.sum() for p in params), torch.zeros((), dtype=torch.float64, device=device))
        mags = sum((p.abs().sum() for p in params), torch.zeros((), dtype=torch.float64, device=device))
        rows.append(torch.stack([total.to(device), mags.to(device)]))
    # NaN would compare unequal to itself (and MAX/MIN of NaN is backend-defined): a sentinel
    # keeps a run that diverged to NaN on every process "in sync".
    hi = torch.nan_to_num(torch.stack(rows), nan=-1.0e300)
    lo = hi.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    return [n for n, h, lw in zip(names, hi, lo) if not torch.equal(h, lw)]


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()


def teardown(d: Dist) -> None:
    """Leave the process group, after freeing the DDP wrappers that refer to it.

    A wrapper (its gradient reducer) that outlives the group destroys it when it is freed, from a
    place that holds the GIL while gloo's worker threads wait for it: the process hangs. Collecting
    first frees wrappers held only by reference cycles while the group is still alive.
    """
    if d.enabled and dist.is_initialized():
        import gc

        gc.collect()
        dist.destroy_process_group()
