"""``genedit run``: load once, then each input in turn; one bad file never stops the batch."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from genedit_core.errors import GeneditError, UsageError

from .console import err, fail, out
from .inputs import expand_inputs, output_path


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
    tile_overlap: int,
    ext: str | None,
    recursive: bool,
    overwrite: bool,
    max_pixels: int | None,
    as_json: bool,
    quiet: bool,
    params: dict[str, str] | None = None,
) -> int:
    from genedit_core.api import get_card

    card = get_card(model)
    if task not in card.tasks:
        raise UsageError(f"model '{card.name}' does not do '{task}' (it does: {', '.join(card.tasks)})")
    tile_size = _parse_tile(tile)
    files = expand_inputs(inputs, recursive)
    if output and len(files) > 1:
        raise UsageError("-o/--output names one file; use --out-dir for several inputs")

    from genedit_core.api import load
    from genedit_core.device import dtype_name
    from genedit_core.images import read_image, write_image
    from genedit_core.pipeline import apply_all, is_group_task

    loaded = load(card.name, scale=scale, weights=weights, device=device, dtype=dtype, backend=backend)
    tag = f"{card.name}_x{loaded.scale}" if task == "upscale" else f"{card.name}_{task}"
    protect = tuple(files)
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
        )
    progress, bar = _progress(quiet or as_json, len(files))
    with progress:
        for src in files:
            started = time.perf_counter()
            entry: dict[str, Any] = {"input": str(src)}
            dest = output_path(src, output=output, out_dir=out_dir, tag=tag, ext=ext)
            try:
                image = read_image(src, max_pixels=max_pixels)
                tiles = progress.add_task(f"  {src.name}", total=None) if not (quiet or as_json) else None

                def on_tile(done: int, total: int, _t=tiles) -> None:
                    if _t is not None:
                        progress.update(_t, completed=done, total=total)

                results_ = apply_all(
                    loaded,
                    image,
                    task=task,
                    tile=tile_size,
                    overlap=tile_overlap,
                    params=params,
                    progress=on_tile,
                )
                if tiles is not None:
                    progress.remove_task(tiles)
                info = {"tile": tile, "tile_overlap": tile_overlap, "input": src.name, "params": params or {}}
                dests = _numbered(dest, len(results_))
                for d, r in zip(dests, results_):
                    write_image(
                        d, r, protect=protect, overwrite=overwrite, provenance={**provenance_base, **info}
                    )
                entry.update(
                    status="ok",
                    output=str(dests[0]),
                    outputs=[str(d) for d in dests],
                    size=list(results_[0].size),
                )
            except GeneditError as exc:
                entry.update(status="failed", error=str(exc))
                if not as_json:
                    fail(str(exc))
            entry["seconds"] = round(time.perf_counter() - started, 3)
            results.append(entry)
            progress.advance(bar)
    failed = [r for r in results if r["status"] != "ok"]
    if as_json:
        out.print_json(json.dumps({**provenance_base, "results": results, "failed": len(failed)}))
    elif not quiet:
        done = len(results) - len(failed)
        for r in results:
            if r["status"] == "ok":
                out.print(f"{r['input']} -> {r['output']}  ({r['seconds']:.2f}s)")
        err.print(
            f"{done} of {len(results)} image(s) done with {card.name} x{loaded.scale} "
            f"on {loaded.device} ({dtype_name(loaded.dtype)})" + (f"; {len(failed)} failed" if failed else "")
        )
    return 1 if failed else 0


def _numbered(dest: Path, n: int) -> list[Path]:
    if n == 1:
        return [dest]
    return [dest.with_name(f"{dest.stem}_{i:03d}{dest.suffix}") for i in range(n)]


def _run_group(
    loaded, files, task, tag, output, out_dir, ext, overwrite, max_pixels, as_json, params, prov
) -> int:
    """All inputs go to the plugin together; any unreadable input fails the whole group."""
    from genedit_core.images import read_image, write_image
    from genedit_core.pipeline import apply_group

    images = [read_image(f, max_pixels=max_pixels) for f in files]
    outputs = apply_group(loaded, images, task=task, params=params)
    dest = output_path(files[0], output=output, out_dir=out_dir, tag=tag, ext=ext)
    dests = _numbered(dest, len(outputs))
    for d, r in zip(dests, outputs):
        write_image(
            d,
            r,
            protect=tuple(files),
            overwrite=overwrite,
            provenance={**prov, "inputs": [f.name for f in files], "params": params},
        )
    if as_json:
        out.print_json(json.dumps({**prov, "outputs": [str(d) for d in dests], "failed": 0}))
    else:
        for d in dests:
            out.print(str(d))
    return 0


def _progress(disabled: bool, total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=disabled,
        transient=True,
    )
    bar = progress.add_task("images", total=total)
    return progress, bar
