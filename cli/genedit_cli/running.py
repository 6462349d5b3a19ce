"""``genedit run``: :func:`genedit_core.batch.run_batch` does the work; this module shows it.

The core expands the inputs, checks everything it can before the model loads (exit 2), runs each
file inside one error boundary, writes outputs with their provenance and returns the per-file
report (see :mod:`genedit_core.batch`). What is left here is the terminal: the note about genedit's
own outputs left out, the progress bars, one ``input -> output`` line per output as soon as it is
written, one ``error:`` line per failed file (with its traceback under ``--debug``), the summary
line or ``--json``, and the exit code: 1 when a file failed.

Under torchrun (``RANK``/``WORLD_SIZE`` in the environment) each process runs its share of the
inputs (:mod:`genedit_core.sharding`) and prints its own result and error lines; only rank 0 shows
progress bars and the note, and it prints the summary (or ``--json``) of every process. Every
process exits 1 when a file failed in any of them.

With ``--ray ADDRESS`` this one process is the driver: Ray tasks run the shares
(:mod:`genedit_core.raybatch`) and their results are shown here, as each file is done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genedit_core.batch import EXISTS_HINT, BatchProgress, BatchReport, FileResult, Inputs, skipped_note
from genedit_core.batch import file_error as _core_file_error
from genedit_core.errors import GeneditError, OutputExistsError, UsageError

from .console import err, fail, one_line, out
from .failures import describe, show_traceback

__all__ = ["EXISTS_HINT", "file_error", "model_label", "result_lines", "run_batch"]


def run_batch(
    *,
    task: str,
    inputs: list[str],
    as_json: bool,
    quiet: bool,
    params: dict[str, str] | None = None,
    ray: str | None = None,
    ray_tasks: int | None = None,
    **batch: Any,
) -> int:
    """``genedit run``'s body: the core batch with this terminal's display; the exit code.

    ``batch`` are :func:`genedit_core.batch.run_batch`'s own keywords (``model``, ``out_dir``,
    ``tile`` ...), passed as they are; ``params`` are the model's options from the command line.
    With ``ray`` (an address, or ``local``) the shares run as Ray tasks
    (:mod:`genedit_core.raybatch`) and this process shows their results as they arrive.
    """
    from genedit_core.batch import run_batch as core_run_batch
    from genedit_core.sharding import Shard, check_rendezvous, gather_report

    shard = Shard.from_env()
    if ray_tasks is not None and ray is None:
        raise UsageError("--ray-tasks needs --ray ADDRESS (or --ray local)")
    if ray is not None:
        if shard.enabled:
            raise UsageError(
                "--ray under torchrun: use one of them (start genedit run --ray once, without torchrun)"
            )
        from genedit_core.raybatch import run_batch_ray

        display = _Display(quiet=quiet or as_json, errors=not as_json)
        report, tasks = run_batch_ray(
            task, inputs, address=ray, tasks=ray_tasks, progress=display, options=params or {}, **batch
        )
        return _summary(report, task, as_json, quiet, f" ({tasks} Ray task{'s' if tasks > 1 else ''})")
    check_rendezvous(shard)
    display = _Display(quiet=quiet or as_json, errors=not as_json, main=shard.is_main)
    report = core_run_batch(task, inputs, progress=display, options=params or {}, shard=shard, **batch)
    report = gather_report(report, shard)  # every process's results, on every process
    if not shard.is_main:
        return 0 if report.ok else 1  # rank 0 shows the whole batch
    return _summary(report, task, as_json, quiet, f" ({shard.world} processes)" if shard.enabled else "")


def _summary(report: BatchReport, task: str, as_json: bool, quiet: bool, where: str) -> int:
    """The whole batch's summary line (``where`` says how many processes or tasks ran it) or its
    ``--json``; the exit code."""
    if report.group:
        return _group_summary(report, as_json)
    if as_json:
        data = report.to_dict()
        for entry, result in zip(data["results"], report.results):
            if result.status == "failed":
                entry["error"] = _error_line(result)
        out.print_json(json.dumps(data))
    elif not quiet:
        done, skipped, failed = len(report.done), len(report.skipped), len(report.failed)
        err.print(
            f"{done} of {len(report.results)} image(s) done with "
            f"{model_label(report.model, task, report.scale)} on {report.device} ({report.dtype})"
            + (f"; {skipped} skipped (output exists)" if skipped else "")
            + (f"; {failed} failed" if failed else "")
            + where,
            markup=False,
        )
    return 0 if report.ok else 1


def _group_summary(report: BatchReport, as_json: bool) -> int:
    """A group task (all inputs at once) has one result: its outputs, or the existing one kept."""
    result = report.results[0]
    inputs = ", ".join(map(str, result.inputs))
    if result.status == "skipped":
        if not as_json:
            out.print(one_line(f"{inputs} -> {result.output}  (exists, skipped)"), markup=False)
        return 0
    if as_json:
        out.print_json(
            json.dumps({**report.provenance, "outputs": [str(d) for d in result.outputs], "failed": 0})
        )
    else:
        for d in result.outputs:
            out.print(one_line(f"{inputs} -> {d}"), markup=False)
    return 0


def _error_line(result: FileResult) -> str:
    """The core's line for a failed file, with the --debug hint when nobody foresaw the error."""
    exc = result.exception
    if exc is None or isinstance(exc, GeneditError):
        return result.error or ""
    dest = result.output or result.input
    return file_error(result.input, dest, exc)


def file_error(src: Path, dest: Path, exc: BaseException) -> str:
    """One line for one file's failure, naming the file; an unforeseen error gets the --debug hint."""
    if isinstance(exc, (GeneditError, OutputExistsError)):
        return _core_file_error(src, dest, exc)
    message = describe(exc)
    named = (str(src), str(dest.parent / dest.stem))
    return message if message.startswith(named) else f"{src}: {message}"


class _Display(BatchProgress):
    """The batch on this terminal: bars on stderr, a line per output on stdout as it is written."""

    def __init__(self, *, quiet: bool, errors: bool, main: bool = True) -> None:
        self.quiet = quiet  # no bars, notes or result lines (-q, --json)
        self.errors = errors  # one error: line per failed file (not with --json, which reports them)
        self.main = main  # one process of several but rank 0: its own lines only, no bars or note
        self.progress: Any = None
        self.bar: Any = None
        self.tiles: Any = None

    def planned(self, inputs: Inputs) -> None:
        if inputs.skipped and not self.quiet and self.main:
            err.print(f"note: {skipped_note(len(inputs.skipped))} (name a file to process it anyway)")

    def start(self, total: int, model: Any) -> None:
        self.progress, self.bar = _progress(self.quiet or not self.main, total)
        self.progress.start()

    def image(self, src: Path):
        if self.quiet or not self.main or self.progress is None:
            return None
        self.tiles = image_bar(self.progress, src.name)
        return tile_callback(self.progress, self.tiles)

    def file_done(self, result: FileResult) -> None:
        if self.progress is not None and self.tiles is not None:
            self.progress.remove_task(self.tiles)
            self.tiles = None
        if result.status == "failed":
            if result.exception is not None:
                show_traceback(result.exception)
            if self.errors:
                fail(_error_line(result))
        elif self.progress is None:
            pass  # a group task (no start): its one result is shown by _group_summary
        elif result.status == "ok" and not self.quiet:
            for line in result_lines(result.to_dict()):
                out.print(line, markup=False)
        elif result.status == "skipped" and not self.quiet:
            out.print(one_line(f"{result.input} -> {result.output}  (exists, skipped)"), markup=False)
        if self.progress is not None:
            self.progress.advance(self.bar)

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def model_label(name: str, task: str, scale: int) -> str:
    """``edsr x2`` for a task that scales, plain ``vae`` for one that does not."""
    return f"{name} x{scale}" if task == "upscale" or scale != 1 else name


def result_lines(entry: dict[str, Any]) -> list[str]:
    """One ``input -> output`` line per output file, printed as soon as the input is done."""
    outputs = entry["outputs"]
    secs = f"{entry['seconds']:.2f}s"
    src = one_line(entry["input"])
    if len(outputs) == 1:
        return [f"{src} -> {one_line(outputs[0])}  ({secs})"]
    return [f"{src} -> {one_line(o)}  ({i} of {len(outputs)}, {secs})" for i, o in enumerate(outputs, 1)]


def _progress(disabled: bool, total: int, console=None, get_time=None):
    """The batch bar: images done of the total, elapsed time and an estimate of the time left.

    Printing a result line while the bar is live goes through the bar's console (above the bar)
    only when stdout is a terminal too; piped stdout is written directly, so it stays stdout.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = console or err
    progress = Progress(
        TextColumn("{task.description}", markup=False),  # file names are shown as they are
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        _eta_column(),
        console=console,
        disable=disabled or not console.is_terminal,  # a log file gets no bar, not even a blank line
        transient=True,
        redirect_stdout=out.is_terminal,
        get_time=get_time,
    )
    bar = progress.add_task("images", total=total)
    return progress, bar


def _eta_column():
    """Time left from the average pace so far (elapsed / done × left).

    rich's own estimate needs two finished steps inside its speed window, so a bar whose steps
    are minutes apart (large tiles, few images) would show no estimate for a long time.
    """
    from rich.progress import ProgressColumn
    from rich.text import Text

    class EtaColumn(ProgressColumn):
        def render(self, task) -> Text:
            elapsed = task.elapsed
            if task.finished or not task.total or not task.completed or elapsed is None:
                return Text("eta -:--:--", style="progress.remaining")
            left = int(round(elapsed * (task.total - task.completed) / task.completed))
            return Text(
                f"eta {left // 3600}:{left % 3600 // 60:02d}:{left % 60:02d}", style="progress.remaining"
            )

    return EtaColumn()


def image_bar(progress, name: str):
    """A bar for one image with a known total from the start: 1 step until the tiler reports how
    many tiles it will run (it does so before the first tile), so it never reads ``0/?``."""
    return progress.add_task(f"  {name}", total=1)


def tile_callback(progress, task_id):
    """The ``on_tile(done, total, values=None)`` callback of one image's bar: the tiler's tiles, or
    an edit hook's own steps (``EditRequest.progress``), whose ``values`` (an optimisation's
    losses, say) are shown after the file name, so a long run says how it is going."""
    name = next((t.description for t in progress.tasks if t.id == task_id), "")

    def on_tile(done: int, total: int, values: Mapping[str, float] | None = None) -> None:
        if task_id is None:
            return
        if values:
            shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
            progress.update(task_id, completed=done, total=total, description=f"{name}  {shown}")
        else:
            progress.update(task_id, completed=done, total=total)

    return on_tile
