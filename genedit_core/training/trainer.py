"""The one training loop every plugin uses (see :class:`~genedit_core.training.task.TrainTask`)."""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import DeviceError, GeneditError, PluginError, UsageError
from . import checkpoints as ckpt
from . import distributed
from .config import RESUMABLE_KEYS, read_saved_config, resolve_for_task, resume_difference, save_config
from .context import StepContext
from .data import SeededBatches
from .task import TrainTask

log = logging.getLogger("genedit")


def make_scheduler(
    opt: torch.optim.Optimizer, cfg: dict[str, Any], total: int
) -> torch.optim.lr_scheduler.LambdaLR:
    sched = cfg["train"].get("schedule") or {}
    kind = sched.get("type", "constant")
    warmup = int(sched.get("warmup", 0))
    milestones = list(sched.get("milestones", []))
    gamma = float(sched.get("gamma", 0.5))
    decay_start = int(sched.get("decay_start", total // 2))

    def factor(step: int) -> float:
        w = min(1.0, (step + 1) / warmup) if warmup else 1.0
        if kind == "constant":
            return w
        if kind == "cosine":
            progress = min(1.0, max(0, step - warmup) / max(1, total - warmup))
            return w * 0.5 * (1 + math.cos(math.pi * progress))
        if kind == "step":
            return w * gamma ** sum(step >= m for m in milestones)
        if kind == "linear":
            return w * (
                1.0
                if step < decay_start
                else max(0.0, 1 - (step - decay_start) / max(1, total - decay_start))
            )
        raise UsageError(f"train.schedule.type {kind}: expected constant, cosine, step or linear")

    return torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _to_device(batch: Any, device: torch.device, channels_last: bool) -> Any:
    if isinstance(batch, torch.Tensor):
        batch = batch.to(device, non_blocking=True)
        if channels_last and batch.ndim == 4 and batch.is_floating_point():
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to_device(b, device, channels_last) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device, channels_last) for k, v in batch.items()}
    return batch


def _num_images(batch: Any) -> int:
    first = batch[0] if isinstance(batch, (tuple, list)) else batch
    return int(first.shape[0]) if isinstance(first, torch.Tensor) else 1


def bf16_available(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        from ..device import cpu_has_native_bf16

        return cpu_has_native_bf16()
    return False


class Trainer:
    def __init__(
        self,
        task: TrainTask,
        cfg: dict[str, Any],
        run_dir: Path,
        data: Any = None,
        *,
        resume: bool = False,
        device: str | None = None,
        quiet: bool = False,
    ):
        self.task, self.run = task, Path(run_dir)
        self.data, self.resume, self.quiet = data, resume, quiet
        saved = self._saved_config() if resume else None
        # Checked before anything is built: a bad key fails in a second, not after data loading.
        self.cfg = resolve_for_task(task, cfg)
        if saved is not None:
            self._check_resumable(saved)
        self.device_name = device or self.cfg["train"].get("device", "auto")
        self.warned: set[str] = set()
        self.history: list[dict[str, Any]] = []

    # -- setup ------------------------------------------------------------------------------------
    def _saved_config(self) -> dict[str, Any]:
        """The run's own config, checked: first that this task made the run, then that the file is
        whole (damage there is run state, exit 1, not a usage error)."""
        made_by = ckpt.run_task(self.run)
        if made_by is not None and made_by != self.task.name:
            raise UsageError(
                f"{self.run}: a run of '{made_by}', not '{self.task.name}'; "
                f"continue it with genedit train {made_by} --resume {self.run}"
            )
        raw = read_saved_config(self.run)
        try:
            return resolve_for_task(self.task, raw)
        except UsageError as exc:
            raise GeneditError(f"{self.run / 'config.yaml'}: {exc}") from None

    def _check_resumable(self, saved: dict[str, Any]) -> None:
        """A resumed run continues the same training: only when and where it runs may change."""
        path = self.run / "config.yaml"
        diff = resume_difference(saved, self.cfg)
        if diff:
            key, was, now, n = diff
            more = f" (and {n - 1} more)" if n > 1 else ""
            may = ", ".join(k.split(".", 1)[1] for k in RESUMABLE_KEYS if k.startswith("train."))
            raise UsageError(
                f"--resume {self.run}: {key} is {now!r} now, {was!r} in {path}{more}; a resumed run "
                f"may change only train.{{{may}}} and data.source (start a new run with --out)"
            )

    def _device(self) -> torch.device:
        import os

        from ..device import choose_device

        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and self.device_name in ("auto", "cuda"):
            # One GPU per process: torchrun's LOCAL_RANK picks it. "auto" with fewer GPUs than local
            # processes falls back to CPU (gloo) instead of every extra rank failing on a missing device.
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            local_world = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
            count = torch.cuda.device_count() if torch.cuda.is_available() else 0
            if count >= local_world:
                return torch.device("cuda", local_rank)
            if self.device_name == "cuda":
                raise DeviceError(
                    f"--device cuda with {local_world} processes per node needs {local_world} GPUs; "
                    f"{count} visible (use --nproc-per-node {count} or --device cpu)"
                )
            return torch.device("cpu")
        return choose_device(self.device_name)

    def _seed(self, seed: int) -> None:
        random.seed(seed)
        np.random.seed(seed % (2**32))
        torch.manual_seed(seed)
        if self.cfg["train"].get("deterministic"):
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False

    def fit(self) -> Path:
        tcfg = self.cfg["train"]
        device = self._device()
        d = distributed.setup(device)
        try:
            return self._fit(tcfg, device, d)
        except BaseException as exc:
            if d.enabled:
                # The traceback keeps the step's frames, and the DDP wrappers in them, alive past
                # teardown; a wrapper freed after its process group is gone can deadlock the process
                # (gloo joins its threads holding the GIL). Free them while the group still exists.
                traceback.clear_frames(exc.__traceback__)
            raise
        finally:
            distributed.teardown(d)

    def _fit(self, tcfg: dict[str, Any], device: torch.device, d: distributed.Dist) -> Path:
        seed = int(tcfg["seed"])
        self._seed(seed)
        channels_last = bool(tcfg.get("channels_last"))
        nets = self.task.build_networks(self.cfg)
        for net in nets.values():
            net.to(device)
            if channels_last:
                net.to(memory_format=torch.channels_last)
        for name in self.task.ema:
            ema = copy.deepcopy(nets[name]).eval().requires_grad_(False)
            nets[f"{name}_ema"] = ema
        trainable = {k: v for k, v in nets.items() if not k.endswith("_ema")}
        opts = self.task.build_optimizers(trainable, self.cfg)
        steps = int(tcfg["steps"])
        accumulate = max(1, int(tcfg.get("accumulate", 1)))
        scheds = {k: make_scheduler(o, self.cfg, steps) for k, o in opts.items()}
        wrapped = dict(nets)
        if d.enabled:
            for k, net in trainable.items():
                if any(p.requires_grad for p in net.parameters()):
                    wrapped[k] = distributed.wrap(net, device)
        dataset = self.task.build_dataset(self.data, self.cfg)
        batches = SeededBatches(dataset, int(tcfg["batch_size"]), seed, d.rank, d.world)

        start = 0
        best_metric: float | None = None
        if d.is_main:
            ckpt.clean_stale(self.run)
        if self.resume:
            folder, flat, state = ckpt.load_checkpoint(self.run, repair=d.is_main)
            start, best_metric = ckpt.restore(folder, flat, state, nets, opts, scheds)
            if start > steps:
                raise UsageError(
                    f"--resume {self.run}: the run is at step {start}, past train.steps={steps}; "
                    "raise train.steps to train longer"
                )
        elif d.is_main:
            self.run.mkdir(parents=True, exist_ok=True)
            save_config(self.cfg, self.run / "config.yaml")

        use_bf16 = bool(tcfg.get("bf16")) and bf16_available(device)
        ctx = StepContext(
            wrapped,
            nets,
            opts,
            scheds,
            self.cfg,
            device,
            micro_steps=accumulate,
            use_bf16=use_bf16,
            world_size=d.world,
            rank=d.rank,
        )
        writer = self._tensorboard() if d.is_main else None
        metrics_file = open(self.run / "metrics.jsonl", "a") if d.is_main else None  # noqa: SIM115
        budget = float(tcfg.get("max_minutes") or 0) * 60
        t0 = time.perf_counter()
        images_seen, window_t, window_imgs = 0, time.perf_counter(), 0
        step = start
        progress, bar = self._progress(d.is_main and not self.quiet, steps, start)
        try:
            with progress:
                for step in range(start, steps):
                    ctx.step = step
                    for net in trainable.values():
                        net.train()
                    gen_device = device if device.type == "cuda" else torch.device("cpu")
                    # Seeded from (seed, step, rank): reproducible on resume, and each DDP process
                    # draws its own noise (else every process would make the same fakes). The CPU
                    # generator keeps only the low 32 bits of a seed, so the rank offset lives there.
                    noise_seed = seed * 1_000_003 + step + d.rank * 0x9E3779B1
                    ctx.generator = torch.Generator(gen_device).manual_seed(noise_seed)
                    agg: dict[str, float] = {}
                    for micro in range(accumulate):
                        ctx.accumulating = micro < accumulate - 1
                        batch = _to_device(batches.batch(step * accumulate + micro), device, channels_last)
                        out = self.task.train_step(batch, ctx)
                        for k, v in out.items():
                            agg[k] = agg.get(k, 0.0) + float(v) / accumulate
                        n = _num_images(batch)
                        images_seen += n
                        window_imgs += n
                    self._update_ema(nets)
                    done = step + 1
                    if done % int(tcfg["log_every"]) == 0 or done == steps:
                        agg = distributed.average(agg, d, device)
                        now = time.perf_counter()
                        agg["images_per_s"] = window_imgs * d.world / max(1e-9, now - window_t)
                        window_t, window_imgs = now, 0
                        agg["lr"] = next(iter(opts.values())).param_groups[0]["lr"] if opts else 0.0
                        self._log(done, agg, ctx, metrics_file, writer, progress, bar)
                    if (
                        d.is_main
                        and self.task.generative
                        and tcfg.get("sample_every")
                        and done % int(tcfg["sample_every"]) == 0
                    ):
                        self._write_samples(done, nets, ctx)
                    is_eval = bool(tcfg.get("eval_every")) and done % int(tcfg["eval_every"]) == 0
                    is_best = False
                    metric = None
                    if is_eval or (done == steps and self.task.best_metric):
                        metric, is_best = self._evaluate(done, nets, ctx, metrics_file, best_metric)
                        if is_best:
                            best_metric = metric
                    if done % int(tcfg["ckpt_every"]) == 0 or done == steps or is_best:
                        self._checkpoint(done, nets, opts, scheds, best_metric, metric, is_best, ctx, d)
                    progress.update(bar, completed=done)
                    # Every process must stop at the same step, or the others wait in a collective.
                    if budget and distributed.any_rank(time.perf_counter() - t0 > budget, d, device):
                        log.warning("stopping at step %d: train.max_minutes reached", done)
                        self._checkpoint(done, nets, opts, scheds, best_metric, None, False, ctx, d)
                        break
        finally:
            if metrics_file:
                metrics_file.close()
            if writer:
                writer.close()
        drifted = distributed.out_of_sync(nets, d, device)
        if drifted:
            raise PluginError(
                f"DDP: the processes ended with different weights for {', '.join(drifted)}: the "
                f"'{self.task.name}' train_step updates them outside DistributedDataParallel (call the "
                "wrapped ctx.nets[...] for forward passes; read attributes through "
                "genedit_core.training.unwrap). Rank 0's checkpoints are in " + str(self.run)
            )
        distributed.barrier(d)
        return self.run

    # -- pieces -----------------------------------------------------------------------------------
    def _update_ema(self, nets: dict[str, nn.Module]) -> None:
        with torch.no_grad():
            for name, decay in self.task.ema.items():
                src, dst = nets[name], nets[f"{name}_ema"]
                for p_ema, p in zip(dst.parameters(), src.parameters()):
                    p_ema.lerp_(p.detach(), 1 - decay)
                for b_ema, b in zip(dst.buffers(), src.buffers()):
                    b_ema.copy_(b)

    def _export_name(self, nets: dict[str, nn.Module]) -> str:
        name = self.task.export_net
        return f"{name}_ema" if f"{name}_ema" in nets else name

    def _checkpoint(self, step, nets, opts, scheds, best_metric, metric, is_best, ctx, d) -> None:
        if not d.is_main:
            return
        state = {
            "step": step,
            "optimizers": {k: o.state_dict() for k, o in opts.items()},
            "schedulers": {k: s.state_dict() for k, s in scheds.items()},
            "rng": ckpt.rng_state(),
            "best_metric": best_metric,
        }
        keep = int(self.cfg["train"].get("keep_checkpoints", 3))
        cfg = {"genedit_task": self.task.name, **self.task.export_config(nets, self.cfg)}
        ckpt.save_checkpoint(self.run, step, nets, self._export_name(nets), cfg, state, metric, is_best, keep)

    def _evaluate(self, step, nets, ctx, metrics_file, best_metric) -> tuple[float | None, bool]:
        for net in nets.values():
            net.eval()
        with torch.no_grad():
            result = self.task.evaluate(nets, ctx)
        if not result:
            return None, False
        record = {"step": step, "eval": result}
        if metrics_file:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
        if not self.task.best_metric:
            return None, False
        name, mode = self.task.best_metric
        value = float(result[name])
        better = best_metric is None or (value < best_metric if mode == "min" else value > best_metric)
        return value, better

    def _write_samples(self, step: int, nets: dict[str, nn.Module], ctx: StepContext) -> None:
        for net in nets.values():
            net.eval()
        with torch.no_grad():
            images = self.task.sample(nets, ctx)
        if images is None:
            return
        from ..imageops import make_grid
        from ..images import ImageData, write_image

        grid = make_grid(images.clamp(0, 1))
        write_image(self.run / "samples" / f"step-{step:06d}.png", ImageData(grid))

    def _log(self, step, metrics, ctx, metrics_file, writer, progress, bar) -> None:
        record = {"step": step, **{k: round(float(v), 6) for k, v in metrics.items()}}
        self.history.append(record)
        if metrics_file:
            metrics_file.write(json.dumps(record) + "\n")
            metrics_file.flush()
        if writer:
            for k, v in metrics.items():
                writer.add_scalar(k, v, step)
        shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items() if k not in ("lr",))
        progress.update(bar, description=f"train {shown}")
        for warning in self.task.check(metrics, ctx):
            if warning not in self.warned:
                self.warned.add(warning)
                log.warning(warning)
                import warnings

                from ..api import GeneditWarning

                warnings.warn(f"step {step}: {warning}", GeneditWarning, stacklevel=1)

    def _tensorboard(self):
        if not self.cfg["train"].get("tensorboard"):
            return None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:
            log.warning(
                "train.tensorboard is on but tensorboard is not installed; logging to metrics.jsonl only"
            )
            return None
        return SummaryWriter(str(self.run / "tensorboard"))

    def _progress(self, enabled: bool, total: int, start: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        progress = Progress(
            TextColumn("{task.description}", markup=False),  # metric names are the task's text
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            transient=False,
        )
        bar = progress.add_task("train", total=total, completed=start)
        return progress, bar
