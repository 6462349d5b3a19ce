"""Batches: files, folders and globs in; outputs with provenance and a per-file report out.

``genedit run`` is a thin front end over :func:`run_batch`, so a Python user batches a folder the
way the command does::

    report = genedit_core.run_batch("upscale", ["photos/", "extra/*.jpg"], model="edsr", out_dir="big")
    report.failed        # the files that failed, each with its one-line error
    report.to_dict()     # what ``genedit run --json`` prints

What it promises, for the command and the function alike:

* **Inputs**: files as named (always taken); folders expanded to their images (``recursive`` for
  sub-folders, kept apart in the output folder); glob patterns matched here. Images genedit wrote
  itself (recognised by their provenance) are left out of folders and patterns, so a second run
  never takes the first run's outputs as new inputs.
* **Outputs**: ``<out_dir or results/>/<stem>_<model>_<task><ext>`` (``_<model>_x<scale>`` for
  ``upscale``; ``_000``, ``_001`` ... when a task returns several images), or ``output`` for one
  input. Each is written atomically with its provenance (genedit version, model, weights and their
  sha256, device, dtype, options). An existing output is kept unless ``overwrite``;
  ``skip_existing`` skips inputs whose output is there; an output never replaces an input.
* **Checks before any work**: the task, the options the model declares for it
  (:func:`genedit_core.options.check_task_params`), device/dtype/tile/type options, and two inputs
  that would write one file are :class:`UsageError` s before the model loads.
* **One file, one error**: whatever goes wrong with one file is one line in its
  :class:`FileResult` and the batch goes on; a :class:`UsageError` from the plugin (a bad option is
  wrong for every image) stops the batch at once.

Messages name options by their command-line flags (``--overwrite`` is ``overwrite=True`` here),
because the command shows them as they are. The core never prints: progress and results reach a
front end through a :class:`BatchProgress`.
"""

from __future__ import annotations

import glob
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GeneditError, ImageError, OutputExistsError, UsageError
from .images import SUPPORTED_SUFFIXES, is_image_path, max_pixels_default, output_format, written_by_genedit

if TYPE_CHECKING:
    from .model import LoadedModel
    from .sharding import Shard
    from .warm import WarmModel

DEFAULT_OUT_DIR = "results"
EXISTS_HINT = "use --overwrite or --skip-existing"

TileProgress = Callable[[int, int], None]
"""``on_tile(done, total)``: the tiler's progress through one image."""


# -- inputs ----------------------------------------------------------------------------------------


@dataclass
class Inputs:
    """The files to process, the genedit outputs left out, and where each file sits below a
    scanned folder (so ``recursive`` keeps sub-folders apart in the output folder)."""

    files: list[Path]
    skipped: list[Path] = field(default_factory=list)
    subdirs: dict[Path, Path] = field(default_factory=dict)


def expand_inputs(items: list[str] | list[Path], recursive: bool = False) -> Inputs:
    """Files as given; directories expanded to their images; unexpanded globs matched here.

    Files named one by one are always taken. Files found by scanning a folder or matching a
    pattern are taken unless genedit wrote them. A missing file is kept: it fails on its own, as
    one line of the report, without stopping the others.
    """
    found = Inputs(files=[])

    def scanned(path: Path, subdir: Path | None = None) -> None:
        if written_by_genedit(path):
            found.skipped.append(path)
            return
        found.files.append(path)
        if subdir is not None and subdir != Path("."):
            found.subdirs[path] = subdir

    for item in map(str, items):
        p = Path(item)
        if p.is_dir():
            pattern = "**/*" if recursive else "*"
            for q in sorted(q for q in p.glob(pattern) if q.is_file() and is_image_path(q)):
                scanned(q, q.parent.relative_to(p))
        elif any(ch in item for ch in "*?[") and not p.exists():
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"{item}: no file matches this pattern")
            for m in matches:
                if m.is_file():
                    scanned(m)
        else:
            found.files.append(p)
    if not found.files:
        hint = (
            f" ({skipped_note(len(found.skipped))}; name a file to process it anyway)"
            if found.skipped
            else ""
        )
        raise UsageError("no input images found in: " + " ".join(map(str, items)) + hint)
    return found


def skipped_note(n: int) -> str:
    """The one line that says how many scanned files were left out as genedit's own outputs."""
    return f"skipped {n} image(s) that genedit wrote"


def output_path(
    src: Path,
    *,
    output: str | Path | None,
    out_dir: str | Path | None,
    tag: str,
    ext: str | None,
    subdir: Path | None = None,
) -> Path:
    """Where ``src``'s output goes: ``output``, else ``<out_dir or results>/<subdir>/<stem>_<tag><ext>``."""
    suffix = ext if ext else src.suffix
    if not suffix.startswith("."):
        suffix = "." + suffix
    if output:
        return Path(output)
    folder = Path(out_dir) if out_dir else Path(DEFAULT_OUT_DIR)
    if subdir is not None:
        folder = folder / subdir
    return folder / f"{src.stem}_{tag}{suffix.lower()}"


def numbered(dest: Path, n: int) -> list[Path]:
    """The files of ``n`` outputs for one input: ``dest`` itself, or ``stem_000``, ``stem_001`` ..."""
    if n == 1:
        return [dest]
    return [dest.with_name(f"{dest.stem}_{i:03d}{dest.suffix}") for i in range(n)]


# -- checks before any work --------------------------------------------------------------------------


def _types() -> str:
    return ", ".join(s.lstrip(".") for s in SUPPORTED_SUFFIXES)


def check_device_dtype(*, device: str | None, dtype: str | None) -> None:
    """``device`` and ``dtype`` by name; whether the device exists here is asked at load."""
    from .device import DTYPE_NAMES, check_device_name

    check_device_name(device)
    if dtype is not None and str(dtype).strip().lower() not in DTYPE_NAMES:
        shown = dtype if str(dtype).strip() else repr(dtype)
        raise UsageError(f"--dtype {shown}: expected one of {', '.join(DTYPE_NAMES)}")


def check_run_options(
    *,
    device: str | None,
    dtype: str | None,
    tile: str | int | None,
    tile_overlap: int | None,
    max_pixels: int | None,
    ext: str | None,
    output: str | Path | None,
) -> None:
    """Every batch option that can be judged without the files (a typo never costs a model load)."""
    check_device_dtype(device=device, dtype=dtype)
    parse_tile(tile)
    if tile_overlap is not None and tile_overlap < 0:
        raise UsageError(f"--tile-overlap {tile_overlap}: expected 0 or more pixels")
    if max_pixels is None:
        max_pixels_default()  # GENEDIT_MAX_PIXELS=abc is refused here, not on the first image
    elif max_pixels < 1:
        raise UsageError(f"--max-pixels {max_pixels}: expected a positive number of pixels")
    if ext is not None:
        suffix = ext if ext.startswith(".") else "." + ext
        if not output_format(Path("x" + suffix)):
            raise UsageError(f"--ext {ext}: genedit cannot write this type (use {_types()})")
    if output is not None and not output_format(Path(output)):
        raise UsageError(f"-o {output}: genedit cannot write '{Path(output).suffix}' files (use {_types()})")


def parse_tile(tile: str | int | None) -> int | str | None:
    """``"auto"``, a number of pixels, or 0/None for no tiling; anything else is a UsageError."""
    if tile is None or tile == "auto":
        return tile
    try:
        value = int(tile)
    except (TypeError, ValueError):
        value = -1
    if value < 0:
        raise UsageError(f"--tile {tile}: expected a number of pixels, 'auto' or 0 (no tiling)")
    return value or None


def check_outputs_writable(files: list[Path], *, output: str | Path | None, ext: str | None) -> None:
    """Each input's output must be a type genedit writes: a ``.gif`` input without ``ext`` is
    refused now, with the fix, instead of failing after its model ran."""
    if output is not None or ext is not None:
        return  # their type was checked by check_run_options
    for src in files:
        if not output_format(src):
            kind = f"'{src.suffix}' files" if src.suffix else "files without a type suffix"
            raise UsageError(
                f"{src}: genedit cannot write {kind}, so its output cannot keep the input's type; "
                f"pass --ext png (or another of {_types()})"
            )


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


def check_collisions(planned: Mapping[Path, Path]) -> None:
    """Stop before any work when two inputs would write the same output file.

    ``p.png`` and ``p.jpg`` with ``ext="png"``, or ``x/a.png`` and ``y/a.png`` named one by one,
    map to one output name; the second would silently replace the first.
    """
    by_output: dict[str, list[Path]] = {}
    for src, dest in planned.items():
        by_output.setdefault(_key(dest), []).append(src)
    clashes = [srcs for srcs in by_output.values() if len(srcs) > 1]
    if not clashes:
        return
    shown = "; ".join(" and ".join(map(str, srcs)) for srcs in clashes[:5])
    more = f" (and {len(clashes) - 5} more)" if len(clashes) > 5 else ""
    raise UsageError(
        f"inputs would write the same output file: {shown}{more}. Nothing was done; "
        "rename one, or run them with separate --out-dir folders"
    )


def refuse_clobber(
    src: Path, dest: Path, inputs: Mapping[str, Path], written: Mapping[str, Path], overwrite: bool
) -> None:
    """Raise an :class:`ImageError` naming the real cause when ``dest`` would replace a file it must not.

    Three causes, three messages: the output is its own input; it is another input of this run;
    or an earlier input of this run (with the same file name, from another folder) already wrote it.
    """
    key = _key(dest)
    if key in written:
        raise ImageError(
            f"{dest}: already written in this run from {written[key]}; {src} has the same name. "
            "Process them with separate --out-dir folders"
        )
    if overwrite or key not in inputs:
        return
    if key == _key(src):
        raise ImageError(
            f"{dest}: output would overwrite its input; choose another -o/--out-dir or pass --overwrite"
        )
    raise ImageError(
        f"{dest}: output of {src} would overwrite {inputs[key]}, another input of this run; "
        "choose another --out-dir or pass --overwrite"
    )


def existing_output(dest: Path, *, numbered_too: bool = False) -> Path | None:
    """``dest`` if a file is there; with ``numbered_too``, also its first numbered file (``_000``),
    which a task with several outputs per input writes instead (``skip_existing`` counts an input
    as done when its first output exists). A folder with that name is no output: the writer
    reports it as what it is."""
    for p in (dest, *(numbered(dest, 2)[:1] if numbered_too else ())):
        if os.path.lexists(p) and not os.path.isdir(p):
            return p
    return None


def file_error(src: Path, dest: Path, exc: BaseException) -> str:
    """One line for one file's failure, naming the file: the input, or the output it concerns."""
    if isinstance(exc, OutputExistsError):
        return f"{exc.path}: exists ({EXISTS_HINT})"
    message = describe(exc)
    named = (str(src), str(dest.parent / dest.stem))  # numbered outputs share the stem
    return message if message.startswith(named) else f"{src}: {message}"


def describe(exc: BaseException) -> str:
    """A GeneditError's own message; anything else as ``unexpected TYPE: first line``."""
    if isinstance(exc, GeneditError):
        return str(exc)
    lines = str(exc).strip().splitlines()
    return (
        f"unexpected {type(exc).__name__}: {lines[0][:300]}" if lines else f"unexpected {type(exc).__name__}"
    )


# -- the report ----------------------------------------------------------------------------------------


@dataclass
class FileResult:
    """What became of one input (of all inputs, for a group task such as VAE interpolation).

    ``status`` is ``ok``, ``skipped`` (its output exists and ``skip_existing`` was given) or
    ``failed`` (``error`` says why in one line; ``exception`` is what was raised, for a traceback).
    """

    inputs: list[Path]
    status: str = "ok"
    outputs: list[Path] = field(default_factory=list)
    size: tuple[int, int] | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    seconds: float = 0.0

    @property
    def input(self) -> Path:
        return self.inputs[0]

    @property
    def output(self) -> Path | None:
        return self.outputs[0] if self.outputs else None

    def to_dict(self) -> dict[str, Any]:
        """One entry of ``genedit run --json``'s ``results``."""
        entry: dict[str, Any] = {"input": str(self.input), "status": self.status}
        if self.status == "ok":
            entry.update(output=str(self.outputs[0]), outputs=[str(p) for p in self.outputs])
            if self.size is not None:
                entry["size"] = list(self.size)
        elif self.status == "skipped":
            entry.update(output=str(self.outputs[0]), reason="output exists")
        else:
            entry["error"] = self.error
        entry["seconds"] = round(self.seconds, 3)
        return entry


@dataclass
class BatchReport:
    """The outcome of :func:`run_batch`: one :class:`FileResult` per input (one for a group task).

    ``provenance`` is what every output records (genedit version, task, model, weights and their
    sha256, scale, device, dtype); ``skipped_inputs`` are images of the scanned folders that genedit
    wrote itself and so were not taken as inputs.
    """

    task: str
    model: str
    scale: int
    device: str
    dtype: str
    provenance: dict[str, Any]
    results: list[FileResult] = field(default_factory=list)
    skipped_inputs: list[Path] = field(default_factory=list)
    group: bool = False

    @property
    def done(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "ok"]

    @property
    def failed(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def skipped(self) -> list[FileResult]:
        """Inputs whose output was already there (``skip_existing``)."""
        return [r for r in self.results if r.status == "skipped"]

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def outputs(self) -> list[Path]:
        return [p for r in self.done for p in r.outputs]

    def to_dict(self) -> dict[str, Any]:
        """What ``genedit run --json`` prints."""
        return {
            **self.provenance,
            "results": [r.to_dict() for r in self.results],
            "failed": len(self.failed),
            "skipped_existing": len(self.skipped),
            "skipped": [str(p) for p in self.skipped_inputs],
        }


class BatchProgress:
    """How a front end follows a batch; every method does nothing here, so subclass what you show.

    Called in this order: :meth:`planned` once the inputs are known (before the model loads),
    :meth:`start` once it is loaded, then per input :meth:`image` (before the model runs on it; it
    may return an ``on_tile(done, total)`` callback) and :meth:`file_done`, and :meth:`finish`
    always, even when the batch stops on an error. A group task (every input in one call) gets no
    :meth:`start` or :meth:`image`, only one :meth:`file_done` for the group.
    """

    def planned(self, inputs: Inputs) -> None:
        """The inputs are expanded and checked; the model is not loaded yet."""

    def start(self, total: int, model: LoadedModel) -> None:
        """The model is loaded and ``total`` inputs are about to run."""

    def image(self, src: Path) -> TileProgress | None:
        """``src`` is read and about to run; return a tile callback to follow it, or None."""
        return None

    def file_done(self, result: FileResult) -> None:
        """One input is done, skipped or failed."""

    def finish(self) -> None:
        """The batch is over (or stopped)."""


class _Skip(Exception):
    """This input's output is already there and skip_existing was given."""


# -- the batch -------------------------------------------------------------------------------------------


def _first_size(files: list[Path]) -> tuple[int, int] | None:
    """(H, W) of the first input, from its header only: the size bucket ``--backend auto`` looks up.

    ``None`` when there is none or its header does not say (the file's own error comes later).
    """
    if not files:
        return None
    try:
        import stat

        from PIL import Image

        # A FIFO or device would block or never end: only a regular file is opened here.
        if not stat.S_ISREG(files[0].stat().st_mode):
            return None
        with Image.open(files[0]) as im:
            w, h = im.size
        return (h, w)
    except Exception:
        return None


@dataclass
class BatchPlan:
    """A batch checked as a whole, before any model loads: the card, the task's options as the
    model takes them, the expanded inputs, and whether the task takes every input in one call."""

    card: Any
    params: dict[str, Any]
    inputs: Inputs
    group: bool


def plan_batch(
    task: str,
    inputs: str | Path | list[str] | list[Path],
    *,
    model: Any,
    out_dir: str | Path | None = None,
    output: str | Path | None = None,
    device: str = "auto",
    dtype: str = "auto",
    tile: str | int | None = "auto",
    tile_overlap: int | None = None,
    ext: str | None = None,
    recursive: bool = False,
    overwrite: bool = False,
    skip_existing: bool = False,
    max_pixels: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> BatchPlan:
    """Every check :func:`run_batch` makes before the model loads, as one step of its own.

    :func:`run_batch` starts with it, and so does a driver that hands the shares to other machines
    (:mod:`genedit_core.raybatch`), so a wrong request is refused once, before any of them starts.
    ``model`` is a name or a :class:`~genedit_core.cards.ModelCard`. Raises :class:`UsageError`.
    """
    from .api import get_card
    from .options import check_task_params

    card = get_card(model) if isinstance(model, str) else model
    if task not in card.tasks:
        raise UsageError(f"model '{card.name}' does not do '{task}' (it does: {', '.join(card.tasks)})")
    params = check_task_params(card, task, dict(options or {}))
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; pass one")
    check_run_options(
        device=device,
        dtype=dtype,
        tile=tile,
        tile_overlap=tile_overlap,
        max_pixels=max_pixels,
        ext=ext,
        output=output,
    )
    parse_tile(tile)
    found = expand_inputs([inputs] if isinstance(inputs, (str, Path)) else list(inputs), recursive)
    files = found.files
    check_outputs_writable(files, output=output, ext=ext)
    if output and len(files) > 1:
        raise UsageError("-o/--output names one file; use --out-dir for several inputs")
    group = task in card.group_tasks
    # The tag needs the loaded scale; the clash check only needs names to differ, which any tag keeps.
    if not group:
        check_collisions(
            {
                src: output_path(
                    src, output=output, out_dir=out_dir, tag="x", ext=ext, subdir=found.subdirs.get(src)
                )
                for src in files
            }
        )
    return BatchPlan(card, params, found, group)


def run_batch(
    task: str,
    inputs: str | Path | list[str] | list[Path],
    *,
    model: str | LoadedModel,
    out_dir: str | Path | None = None,
    output: str | Path | None = None,
    scale: int | None = None,
    weights: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "auto",
    tile: str | int | None = "auto",
    tile_overlap: int | None = None,
    ext: str | None = None,
    recursive: bool = False,
    overwrite: bool = False,
    skip_existing: bool = False,
    max_pixels: int | None = None,
    progress: BatchProgress | None = None,
    options: Mapping[str, Any] | None = None,
    shard: Shard | tuple[int, int] | None = None,
    **more_options: Any,
) -> BatchReport:
    """Run ``task`` of ``model`` on every image of ``inputs`` (files, folders, glob patterns).

    ``model`` is a name (loaded here with ``scale``, ``weights``, ``device``, ``dtype``, ``backend``)
    or a :class:`~genedit_core.model.LoadedModel` already loaded; ``backend="auto"`` picks the
    runtime measured fastest for the size of the first input (:mod:`genedit_core.autobackend`).
    The model's own options for the task go in ``options`` or as keywords (``samples=4``;
    ``genedit info MODEL`` lists them) and are checked before anything loads. Returns the :class:`BatchReport`; a file that fails is in it,
    not raised. Raises :class:`UsageError` for a request that is wrong as a whole.

    A request that a converting backend already ran, for a task the card declares a tiled forward,
    runs its cached program without torch (:mod:`genedit_core.warm`): the same outputs, with
    ``warm: true`` in their provenance. The normal path records such requests after it succeeds.

    ``shard`` (``(rank, world)`` or a :class:`~genedit_core.sharding.Shard`, e.g.
    ``Shard.from_env()`` under torchrun) runs only this process's share of the inputs (see
    :mod:`genedit_core.sharding`); every process checks the whole list first, so they all refuse
    the same request. The report holds this share; :func:`~genedit_core.sharding.gather_report`
    joins every process's.
    """
    from .model import LoadedModel
    from .sharding import Shard, cuda_count, shard_device
    from .warm import WarmModel

    part = Shard.of(shard)
    progress = progress or BatchProgress()
    loaded: LoadedModel | None = model if isinstance(model, LoadedModel) else None
    plan = plan_batch(
        task,
        inputs,
        model=loaded.card if loaded is not None else str(model),
        out_dir=out_dir,
        output=output,
        device=device,
        dtype=dtype,
        tile=tile,
        tile_overlap=tile_overlap,
        ext=ext,
        recursive=recursive,
        overwrite=overwrite,
        skip_existing=skip_existing,
        max_pixels=max_pixels,
        options={**(options or {}), **more_options},
    )
    card, params, found, files, group = plan.card, plan.params, plan.inputs, plan.inputs.files, plan.group
    tile_size = parse_tile(tile)
    progress.planned(found)
    mine = part.share(files, whole=group)  # a group task runs every input in one call, on rank 0

    warm: WarmModel | None = None
    first_size = _first_size(mine) if loaded is None and not group else None
    if loaded is None and not group:
        from .warm import warm_model

        # a program a backend converted and cached for exactly this request runs without torch
        warm = warm_model(
            card,
            task,
            params=params,
            scale=scale,
            weights=weights,
            device=device,
            dtype=dtype,
            backend=backend,
            size=first_size,
            sharded=part.enabled,
        )

    def load_normal() -> LoadedModel:
        from .api import load

        # the card's qualified name: 'acme:espcn' must load acme's card, not the bare name's owner
        qualified = f"{card.plugin}:{card.name}" if card.plugin else card.name
        dev = device
        if part.local_world > 1 and str(device).strip().lower() in ("auto", "cuda"):
            dev = shard_device(device, part, cuda_count())  # one GPU per process on a machine
        return load(
            qualified,
            scale=scale,
            weights=weights,
            device=dev,
            dtype=dtype,
            backend=backend,
            input_size=(first_size if not group else _first_size(mine)) if backend == "auto" else None,
        )

    from_name = loaded is None
    if loaded is None and warm is None:
        loaded = load_normal()
    model_now: Any = loaded if loaded is not None else warm
    provenance = batch_provenance(model_now, task)
    report = BatchReport(
        task=task,
        model=card.name,
        scale=model_now.scale,
        device=provenance["device"],
        dtype=provenance["dtype"],
        provenance=provenance,
        skipped_inputs=found.skipped,
        group=group,
    )
    tag = f"{card.name}_x{model_now.scale}" if task == "upscale" else f"{card.name}_{task}"
    job = _Job(
        model_now,
        task,
        params,
        report,
        progress,
        output,
        out_dir,
        ext,
        overwrite,
        skip_existing,
        max_pixels,
        tile,
        provenance,
        load_normal,
    )
    try:
        if group:
            if mine:
                job.group(mine, output_path(mine[0], output=output, out_dir=out_dir, tag=tag, ext=ext))
        else:
            progress.start(len(mine), job.loaded)
            job.each(found, mine, tag, tile_size, tile_overlap)
    finally:
        progress.finish()
    if from_name and not group and report.done and not isinstance(job.loaded, WarmModel):
        from .warm import record

        # the next process with this request may run the converted program without torch
        record(job.loaded, task, scale=scale, weights=weights, dtype=dtype, device=device, size=first_size)
    return report


def _log_compute(src: Path, started: float, path: str) -> None:
    """``genedit --verbose`` says how long the task itself took on one input (no reading or
    writing); benchmarks/warm_process.py takes a whole process's compute time from it."""
    import logging

    took = time.perf_counter() - started
    logging.getLogger("genedit.batch").info("%s: computed in %.3f s (%s)", src, took, path)


def batch_provenance(model: LoadedModel | WarmModel, task: str) -> dict[str, Any]:
    """What every output of ``model`` records: the model's own marks, then genedit's fields (which
    win a clash), and ``warm: true`` when the cached program ran without torch (:mod:`.warm`)."""
    from .device import dtype_name
    from .warm import WarmModel

    card = model.card
    provenance = {
        **model.provenance,  # the model's own marks first: genedit's fields below win a clash
        "genedit": __import__("genedit_core").__version__,
        "task": task,
        "model": card.name,
        "weights": model.weights.origin if model.weights else None,
        "weights_sha256": model.weights.sha256 if model.weights else None,
        "scale": model.scale,
        "device": str(model.device),
        "dtype": dtype_name(model.dtype),
        "backend": model.backend,
    }
    if isinstance(model, WarmModel):
        provenance["warm"] = True
    return provenance


@dataclass
class _Job:
    """One batch's settings, shared by the per-file and the group paths."""

    loaded: LoadedModel
    task: str
    params: dict[str, Any]
    report: BatchReport
    progress: BatchProgress
    output: str | Path | None
    out_dir: str | Path | None
    ext: str | None
    overwrite: bool
    skip_existing: bool
    max_pixels: int | None
    tile: str | int | None  # as asked, for the provenance
    provenance: dict[str, Any] = field(default_factory=dict)  # what each output records
    load_normal: Callable[[], LoadedModel] | None = None  # when a warm model meets an input it cannot do

    def _apply(self, image: Any, src: Path, tile: int | str | None, tile_overlap: int | None) -> list[Any]:
        """The task on one image: the warm program when it can (:mod:`.warm`), else the model
        (loaded now, for this input and the rest, when the warm one cannot do this one)."""
        import logging

        from .pipeline import apply_all
        from .warm import WarmModel, WarmUnsupported, apply_warm

        bar = self.progress.image(src)
        started = time.perf_counter()
        if isinstance(self.loaded, WarmModel):
            try:
                images = apply_warm(self.loaded, image, tile=tile, overlap=tile_overlap, progress=bar)
            except WarmUnsupported as exc:
                logging.getLogger("genedit.warm").info("warm: %s needs the normal path (%s)", src, exc)
                assert self.load_normal is not None
                self.loaded = self.load_normal()
                self.provenance = batch_provenance(self.loaded, self.task)
            else:
                _log_compute(src, started, "warm path")
                return images
        images = apply_all(
            self.loaded,
            image,
            task=self.task,
            tile=tile,
            overlap=tile_overlap,
            params=self.params,
            progress=bar,
        )
        _log_compute(src, started, "normal path")
        return images

    def each(
        self, found: Inputs, mine: list[Path], tag: str, tile: int | str | None, tile_overlap: int | None
    ) -> None:
        """Every input of ``mine`` (this process's share of ``found``) on its own; one file's
        failure, whatever it is, never stops the batch. Every input of ``found`` is protected."""
        from .images import check_output_path, read_image, write_image
        from .tiling import resolve_overlap

        inputs_by_path = {_key(f): f for f in found.files}
        written: dict[str, Path] = {}
        for src in mine:
            started = time.perf_counter()
            result = FileResult([src])
            dest = output_path(
                src,
                output=self.output,
                out_dir=self.out_dir,
                tag=tag,
                ext=self.ext,
                subdir=found.subdirs.get(src),
            )
            try:
                there = existing_output(dest, numbered_too=self.skip_existing)
                if there is not None and self.skip_existing:
                    result.status, result.outputs = "skipped", [there]
                    raise _Skip
                if there is not None and not self.overwrite:  # numbered outputs: the writer refuses them
                    refuse_clobber(src, there, inputs_by_path, written, self.overwrite)  # an input: say so
                    raise OutputExistsError(there)
                refuse_clobber(src, dest, inputs_by_path, written, self.overwrite)
                check_output_path(dest)  # before the work it would waste
                image = read_image(src, max_pixels=self.max_pixels)
                images = self._apply(image, src, tile, tile_overlap)
                overlap = resolve_overlap(self.loaded, tile_overlap)  # what ran: the default is the model's
                info = {"tile": self.tile, "tile_overlap": overlap, "input": src.name, "params": self.params}
                dests = numbered(dest, len(images))
                for d in dests:
                    refuse_clobber(src, d, inputs_by_path, written, self.overwrite)
                for d, r in zip(dests, images):
                    write_image(
                        d,
                        r,
                        protect=(src,),
                        overwrite=self.overwrite,
                        exist_ok=self.overwrite,
                        provenance={**self.provenance, **info},
                    )
                    written[_key(d)] = src
                result.outputs, result.size = dests, tuple(images[0].size)
            except _Skip:
                pass
            except UsageError:
                raise  # a bad option is wrong for every image: stop now, say it once
            except Exception as exc:
                result.status, result.error, result.exception = "failed", file_error(src, dest, exc), exc
            result.seconds = time.perf_counter() - started
            self.report.results.append(result)
            self.progress.file_done(result)

    def group(self, files: list[Path], dest: Path) -> None:
        """All inputs go to the plugin together; any unreadable input fails the whole group (raised)."""
        from .images import check_output_path, read_image, write_image
        from .pipeline import apply_group

        started = time.perf_counter()
        result = FileResult(list(files))
        there = existing_output(dest, numbered_too=self.skip_existing)
        if there is not None and self.skip_existing:
            result.status, result.outputs = "skipped", [there]
        else:
            if there is not None and not self.overwrite:
                raise ImageError(f"{there}: exists ({EXISTS_HINT})")
            check_output_path(dest)
            images = [read_image(f, max_pixels=self.max_pixels) for f in files]
            outputs = apply_group(self.loaded, images, task=self.task, params=self.params)
            dests = numbered(dest, len(outputs))
            inputs_by_path = {_key(f): f for f in files}
            for d in dests:
                refuse_clobber(files[0], d, inputs_by_path, {}, self.overwrite)
            for d, r in zip(dests, outputs):
                try:
                    write_image(
                        d,
                        r,
                        protect=tuple(files),
                        overwrite=self.overwrite,
                        exist_ok=self.overwrite,
                        provenance={
                            **self.provenance,
                            "inputs": [f.name for f in files],
                            "params": self.params,
                        },
                    )
                except OutputExistsError as exc:
                    raise ImageError(f"{exc.path}: exists ({EXISTS_HINT})") from None
            result.outputs, result.size = dests, tuple(outputs[0].size)
        result.seconds = time.perf_counter() - started
        self.report.results.append(result)
        self.progress.file_done(result)
