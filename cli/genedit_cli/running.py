"""``genedit run``: load once, then each input in turn; one bad file never stops the batch.

A bad option is different from a bad file: a :class:`UsageError` from the plugin (raised on the
first image, since options are the same for every image) stops the batch at once with exit code 2,
instead of being repeated for every image.

Each file has one error boundary: whatever goes wrong with it (unreadable, a plugin's exception,
an output that cannot be written or already exists) is one line naming the file and the cause,
and the batch goes on. Two inputs that would write one output are found before any work (exit 2).
An existing output is kept unless ``--overwrite``; ``--skip-existing`` skips inputs whose output
is there, so an interrupted batch can be rerun and does only what is missing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from genedit_core.errors import ImageError, OutputExistsError, UsageError

from .checks import check_outputs_writable, check_run_options
from .console import err, fail, one_line, out
from .failures import describe, show_traceback
from .inputs import expand_inputs, output_path, skipped_note

EXISTS_HINT = "use --overwrite or --skip-existing"


def _parse_tile(tile: str) -> int | str | None:
    if tile == "auto":
        return "auto"
    try:
        value = int(tile)
    except ValueError:
        raise UsageError(f"--tile {tile}: expected a number of pixels, 'auto' or 0") from None
    return value or None


def run_batch(
    *,
    task: str,
    inputs: list[str],
    model: str,
    output: str | None,
    out_dir: str | None,
    scale: int | None,
    weights: str | None,
    device: str,
    dtype: str,
    tile: str,
    backend: str = "torch",
    tile_overlap: int | None,
    ext: str | None,
    recursive: bool,
    overwrite: bool,
    max_pixels: int | None,
    as_json: bool,
    quiet: bool,
    params: dict[str, str] | None = None,
    skip_existing: bool = False,
) -> int:
    from genedit_core.api import get_card

    card = get_card(model)
    if task not in card.tasks:
        raise UsageError(f"model '{card.name}' does not do '{task}' (it does: {', '.join(card.tasks)})")
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
    tile_size = _parse_tile(tile)
    found = expand_inputs(inputs, recursive)
    files = found.files
    check_outputs_writable(files, output=output, ext=ext)
    if found.skipped and not (quiet or as_json):
        err.print(f"note: {skipped_note(len(found.skipped))} (name a file to process it anyway)")
    if output and len(files) > 1:
        raise UsageError("-o/--output names one file; use --out-dir for several inputs")
    group = task in card.group_tasks
    # The tag needs the loaded scale; the clash check only needs names to differ, which any tag keeps.
    planned = {
        src: output_path(src, output=output, out_dir=out_dir, tag="x", ext=ext, subdir=found.subdirs.get(src))
        for src in files
    }
    if not group:
        check_collisions(planned)

    from genedit_core.api import load
    from genedit_core.device import dtype_name
    from genedit_core.images import check_output_path, read_image, write_image
    from genedit_core.pipeline import apply_all, is_group_task
    from genedit_core.tiling import resolve_overlap

    # the card's qualified name: 'acme:espcn' must load acme's card, not the bare name's owner
    qualified = f"{card.plugin}:{card.name}" if card.plugin else card.name
    loaded = load(qualified, scale=scale, weights=weights, device=device, dtype=dtype, backend=backend)
    tag = f"{card.name}_x{loaded.scale}" if task == "upscale" else f"{card.name}_{task}"
    inputs_by_path = {_key(f): f for f in files}
    written: dict[str, Path] = {}
    results: list[dict[str, Any]] = []
    provenance_base = {
        "genedit": __import__("genedit_core").__version__,
        "task": task,
        "model": card.name,
        "weights": loaded.weights.origin if loaded.weights else None,
        "weights_sha256": loaded.weights.sha256 if loaded.weights else None,
        "scale": loaded.scale,
        "device": str(loaded.device),
        "dtype": dtype_name(loaded.dtype),
    }
    if is_group_task(loaded, task):
        return _run_group(
            loaded,
            files,
            task,
            tag,
            output,
            out_dir,
            ext,
            overwrite,
            max_pixels,
            as_json,
            params or {},
            provenance_base,
            skip_existing,
        )
    progress, bar = _progress(quiet or as_json, len(files))
    with progress:
        for src in files:
            started = time.perf_counter()
            entry: dict[str, Any] = {"input": str(src)}
            dest = output_path(
                src, output=output, out_dir=out_dir, tag=tag, ext=ext, subdir=found.subdirs.get(src)
            )
            tiles = None
            try:
                there = existing_output(dest, numbered=skip_existing)
                if there is not None and skip_existing:
                    entry.update(status="skipped", output=str(there), reason="output exists")
                    raise _Skip
                if there is not None and not overwrite:  # numbered outputs: the writer refuses them
                    refuse_clobber(src, there, inputs_by_path, written, overwrite)  # an input: say so
                    raise OutputExistsError(there)
                refuse_clobber(src, dest, inputs_by_path, written, overwrite)
                check_output_path(dest)  # before the work it would waste
                image = read_image(src, max_pixels=max_pixels)
                tiles = image_bar(progress, src.name) if not (quiet or as_json) else None
                on_tile = tile_callback(progress, tiles)
                results_ = apply_all(
                    loaded,
                    image,
                    task=task,
                    tile=tile_size,
                    overlap=tile_overlap,
                    params=params,
                    progress=on_tile,
                )
                overlap = resolve_overlap(loaded, tile_overlap)  # what ran: the default is the model's
                info = {"tile": tile, "tile_overlap": overlap, "input": src.name, "params": params or {}}
                dests = _numbered(dest, len(results_))
                for d in dests:
                    refuse_clobber(src, d, inputs_by_path, written, overwrite)
                for d, r in zip(dests, results_):
                    write_image(
                        d,
                        r,
                        protect=(src,),
                        overwrite=overwrite,
                        exist_ok=overwrite,
                        provenance={**provenance_base, **info},
                    )
                    written[_key(d)] = src
                entry.update(
                    status="ok",
                    output=str(dests[0]),
                    outputs=[str(d) for d in dests],
                    size=list(results_[0].size),
                )
            except _Skip:
                pass
            except UsageError:
                raise  # a bad option is wrong for every image: stop now, exit 2, say it once
            except Exception as exc:  # one file's failure, whatever it is, never stops the batch
                show_traceback(exc)
                entry.update(status="failed", error=file_error(src, dest, exc))
                if not as_json:
                    fail(entry["error"])
            finally:
                if tiles is not None:
                    progress.remove_task(tiles)
            entry["seconds"] = round(time.perf_counter() - started, 3)
            results.append(entry)
            if entry["status"] == "ok" and not (quiet or as_json):
                for line in result_lines(entry):
                    out.print(line, markup=False)
            elif entry["status"] == "skipped" and not (quiet or as_json):
                out.print(one_line(f"{src} -> {entry['output']}  (exists, skipped)"), markup=False)
            progress.advance(bar)
    failed = [r for r in results if r["status"] == "failed"]
    skipped = [r for r in results if r["status"] == "skipped"]
    if as_json:
        out.print_json(
            json.dumps(
                {
                    **provenance_base,
                    "results": results,
                    "failed": len(failed),
                    "skipped_existing": len(skipped),
                    "skipped": [str(p) for p in found.skipped],
                }
            )
        )
    elif not quiet:
        done = len(results) - len(failed) - len(skipped)
        err.print(
            f"{done} of {len(results)} image(s) done with {model_label(card.name, task, loaded.scale)} "
            f"on {loaded.device} ({dtype_name(loaded.dtype)})"
            + (f"; {len(skipped)} skipped (output exists)" if skipped else "")
            + (f"; {len(failed)} failed" if failed else ""),
            markup=False,
        )
    return 1 if failed else 0


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


def _key(path: Path) -> str:
    return os.path.normcase(os.path.realpath(path))


class _Skip(Exception):
    """This input's output is already there and --skip-existing was given."""


def file_error(src: Path, dest: Path, exc: BaseException) -> str:
    """One line for one file's failure, naming the file: the input, or the output it concerns."""
    if isinstance(exc, OutputExistsError):
        return f"{exc.path}: exists ({EXISTS_HINT})"
    message = describe(exc)
    named = (str(src), str(dest.parent / dest.stem))  # numbered outputs share the stem
    return message if message.startswith(named) else f"{src}: {message}"


def existing_output(dest: Path, *, numbered: bool = False) -> Path | None:
    """``dest`` if a file is there; with ``numbered``, also its first numbered file (``_000``), which
    a task with several outputs per input writes instead (used by --skip-existing, where an input
    counts as done when its first output exists).

    A folder with that name is no output: the writer reports it as what it is."""
    for p in (dest, *(_numbered(dest, 2)[:1] if numbered else ())):
        if os.path.lexists(p) and not os.path.isdir(p):
            return p
    return None


def check_collisions(planned: dict[Path, Path]) -> None:
    """Stop before any work (exit 2) when two inputs would write the same output file.

    ``p.png`` and ``p.jpg`` with ``--ext png``, or ``x/a.png`` and ``y/a.png`` named one by one,
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
    src: Path, dest: Path, inputs: dict[str, Path], written: dict[str, Path], overwrite: bool
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


def exists_error(path: Path) -> ImageError:
    """The CLI's wording of an existing output: it names the two flags that decide."""
    return ImageError(f"{path}: exists ({EXISTS_HINT})")


def _numbered(dest: Path, n: int) -> list[Path]:
    if n == 1:
        return [dest]
    return [dest.with_name(f"{dest.stem}_{i:03d}{dest.suffix}") for i in range(n)]


def _run_group(
    loaded,
    files,
    task,
    tag,
    output,
    out_dir,
    ext,
    overwrite,
    max_pixels,
    as_json,
    params,
    prov,
    skip_existing,
) -> int:
    """All inputs go to the plugin together; any unreadable input fails the whole group."""
    from genedit_core.images import check_output_path, read_image, write_image
    from genedit_core.pipeline import apply_group

    dest = output_path(files[0], output=output, out_dir=out_dir, tag=tag, ext=ext)
    there = existing_output(dest, numbered=skip_existing)
    if there is not None and skip_existing:
        if not as_json:
            out.print(one_line(f"{', '.join(map(str, files))} -> {there}  (exists, skipped)"), markup=False)
        return 0
    if there is not None and not overwrite:
        raise exists_error(there)
    check_output_path(dest)
    images = [read_image(f, max_pixels=max_pixels) for f in files]
    outputs = apply_group(loaded, images, task=task, params=params)
    dests = _numbered(dest, len(outputs))
    inputs_by_path = {_key(f): f for f in files}
    for d in dests:
        refuse_clobber(files[0], d, inputs_by_path, {}, overwrite)
    for d, r in zip(dests, outputs):
        try:
            write_image(
                d,
                r,
                protect=tuple(files),
                overwrite=overwrite,
                exist_ok=overwrite,
                provenance={**prov, "inputs": [f.name for f in files], "params": params},
            )
        except OutputExistsError as exc:
            raise exists_error(exc.path) from None
    if as_json:
        out.print_json(json.dumps({**prov, "outputs": [str(d) for d in dests], "failed": 0}))
    else:
        for d in dests:
            out.print(one_line(f"{', '.join(map(str, files))} -> {d}"), markup=False)
    return 0


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
    """The ``progress(done, total)`` callback handed to the tiler for one image's bar."""

    def on_tile(done: int, total: int) -> None:
        if task_id is not None:
            progress.update(task_id, completed=done, total=total)

    return on_tile
