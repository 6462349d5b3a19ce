"""``genedit generate``: sample images from a generative model and write them, a grid and a GIF."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from genedit_core.errors import ImageError, PluginError, UsageError

from .checks import check_generate_options
from .console import err, fail, out
from .failures import show_traceback
from .params import parse_seeds
from .running import EXISTS_HINT, file_error


def generate_images(
    *,
    model: str,
    seeds: str,
    weights: str | None,
    device: str,
    dtype: str,
    out_dir: str | None,
    grid: bool,
    interpolate: tuple[int, int] | None,
    steps: int,
    gif: bool,
    as_json: bool,
    extras: dict[str, str],
    overwrite: bool = False,
    skip_existing: bool = False,
) -> int:
    """Sample, then write each file through the one output writer.

    A file that cannot be written is one line and the others are still written (exit 1). An
    existing file is kept unless ``overwrite``; seeds whose file exists are not sampled again, and
    with ``skip_existing`` they count as done, so a rerun makes only what is missing.
    ``extras`` are the model's own options (``--class 3``), checked against its card before it loads.
    """
    from genedit_core.api import get_card, load
    from genedit_core.device import dtype_name
    from genedit_core.images import check_output_path
    from genedit_core.options import check_task_params
    from genedit_core.sharding import Shard

    if Shard.from_env().enabled:  # every process would sample every seed into the same files
        raise UsageError(
            "genedit generate runs in one process: its seeds are not split across torchrun's "
            "processes (start it without torchrun)"
        )
    card = get_card(model)
    if "generate" not in card.tasks:
        raise UsageError(f"model '{card.name}' does not generate images (it does: {', '.join(card.tasks)})")
    options = check_task_params(card, "generate", extras)
    check_generate_options(device=device, dtype=dtype, steps=steps, interpolate=interpolate)
    if overwrite and skip_existing:
        raise UsageError("--overwrite and --skip-existing contradict each other; pass one")
    seed_list = list(interpolate) if interpolate else parse_seeds(seeds)
    folder = Path(out_dir) if out_dir else Path("generated") / card.name
    plan = _plan(folder, seed_list, interpolate, steps, grid, gif, overwrite)
    if not plan.to_write:
        return _report(plan, skip_existing, as_json)
    # the card's qualified name: 'acme:dcgan' must load acme's card, not the bare name's owner
    loaded = load(
        f"{card.plugin}:{card.name}" if card.plugin else card.name,
        weights=weights,
        device=device,
        dtype=dtype,
    )
    check_output_path(plan.to_write[0])  # a folder that cannot exist fails before sampling
    params: dict[str, Any] = {
        **options,
        "interpolate": tuple(interpolate) if interpolate else None,
        "steps": steps,
    }
    if plan.sample:
        # LoadedModel.generate checks what the plugin returns (count, shape, NaN) before anything is written
        images = loaded.generate(plan.sample, **params).detach().float().cpu().clamp(0, 1)
        sampled = plan.frames if interpolate else [p for p in plan.to_write if p in plan.seed_of]
        if len(images) != len(sampled):
            raise PluginError(
                f"{card.name}: plugin returned {len(images)} images for {len(sampled)} requests"
            )
        plan.arrays = {p: img.numpy().transpose(1, 2, 0) for p, img in zip(sampled, images)}
    prov = {
        "genedit": __import__("genedit_core").__version__,
        "task": "generate",
        "model": card.name,
        "weights": loaded.weights.origin if loaded.weights else None,
        "weights_sha256": loaded.weights.sha256 if loaded.weights else None,
        "device": str(loaded.device),
        "dtype": dtype_name(loaded.dtype),
        "params": {k: v for k, v in params.items() if v is not None},
    }
    for path in plan.to_write:
        try:
            _write_one(path, plan, prov, overwrite)
            plan.written.append(path)
        except Exception as exc:  # one file that cannot be written never costs the others
            show_traceback(exc)
            plan.failed.append(file_error(path, path, exc))
    code = _report(plan, skip_existing, as_json, {**prov, "seeds": seed_list})
    if not as_json:
        err.print(
            f"{len(plan.arrays)} image(s) from {card.name} on {loaded.device} ({dtype_name(loaded.dtype)})",
            markup=False,
        )
    return code


class _Plan:
    """The files a request makes: those to write, those already there, the seeds to sample."""

    def __init__(self) -> None:
        self.frames: list[Path] = []  # the images a grid or GIF is made of, in order
        self.to_write: list[Path] = []
        self.existing: list[Path] = []
        self.sample: list[int] = []
        self.seed_of: dict[Path, int] = {}
        self.arrays: dict[Path, np.ndarray] = {}  # sampled in this run
        self.written: list[Path] = []
        self.failed: list[str] = []


def _plan(
    folder: Path,
    seed_list: list[int],
    interpolate: tuple[int, int] | None,
    steps: int,
    grid: bool,
    gif: bool,
    overwrite: bool,
) -> _Plan:
    plan = _Plan()
    if interpolate:
        plan.frames = [folder / f"frame{i:03d}.png" for i in range(steps)]
    else:
        plan.frames = [folder / f"seed{s:04d}.png" for s in seed_list]
        plan.seed_of = dict(zip(plan.frames, seed_list))
    extra = ([folder / "grid.png"] if grid or interpolate else []) + (
        [folder / "interpolation.gif"] if interpolate and gif else []
    )
    for path in plan.frames + extra:
        there = os.path.lexists(path) and not os.path.isdir(path)  # a folder is no output: the writer says so
        (plan.existing if there and not overwrite else plan.to_write).append(path)
    if interpolate:  # the frames come from one interpolation: anything missing samples them all
        plan.sample = seed_list if plan.to_write else []
    else:
        plan.sample = [plan.seed_of[p] for p in plan.to_write if p in plan.seed_of]
    return plan


def _write_one(path: Path, plan: _Plan, prov: dict[str, Any], overwrite: bool) -> None:
    from genedit_core.imageops import make_grid
    from genedit_core.images import ImageData, read_image, write_image

    if path.name == "interpolation.gif":
        write_gif(path, [plan.arrays[p] for p in plan.frames], exist_ok=overwrite)
        return
    if path.name == "grid.png":
        # seeds kept from an earlier run are read back rather than sampled again
        tiles = [plan.arrays[p] if p in plan.arrays else read_image(p).pixels for p in plan.frames]
        shapes = {t.shape for t in tiles}
        if len(shapes) > 1:
            raise ImageError(f"{path}: cannot make a grid of images of different sizes {sorted(shapes)}")
        arr = make_grid(np.stack(tiles).transpose(0, 3, 1, 2))
    else:
        arr = plan.arrays[path]
        if path in plan.seed_of:
            prov = {**prov, "seed": plan.seed_of[path]}
    write_image(path, ImageData(arr), provenance=prov, exist_ok=overwrite)


def _report(plan: _Plan, skip_existing: bool, as_json: bool, summary: dict[str, Any] | None = None) -> int:
    """What was written, kept and failed; exit 1 when a file failed, or an existing file was in
    the way without --skip-existing."""
    failures = (
        [] if skip_existing else [f"{p}: exists ({EXISTS_HINT})" for p in plan.existing]
    ) + plan.failed
    skipped = plan.existing if skip_existing else []
    if as_json:
        data = {
            **(summary or {}),
            "outputs": [str(p) for p in plan.written],
            "skipped_existing": [str(p) for p in skipped],
            "failed": failures,
        }
        out.print_json(json.dumps(data))
    else:
        for line in failures:
            fail(line)
        for p in plan.written:
            out.print(str(p), markup=False)
        for p in skipped:
            out.print(f"{p}  (exists, skipped)", markup=False)
        if summary is None and skip_existing:
            err.print(f"nothing to do: all {len(skipped)} file(s) exist", markup=False)
    return 1 if failures else 0


def write_gif(path: Path, arrays: list[np.ndarray], ms: int = 80, *, exist_ok: bool = True) -> Path:
    """Write an animated GIF that plays forwards then back, through the one output writer."""
    from PIL import Image

    from genedit_core.images import atomic_output

    frames = [Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8).squeeze()) for a in arrays]
    frames = frames + frames[-2:0:-1]
    with atomic_output(path, exist_ok=exist_ok) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
    return path


def generate_from_run(
    model: str,
    inputs: list[str],
    extras: dict[str, str],
    weights,
    device,
    dtype,
    out_dir,
    as_json,
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
) -> int:
    """``genedit run generate --model M --seeds ...``: the same as ``genedit generate M ...``.

    Here ``generate``'s own options arrive as extras too: they are taken out by name, and what
    is left is the model's options, checked against its card as ``genedit generate`` does.
    """
    if inputs:
        raise UsageError("generate takes no input images (did you mean another task?)")
    from genedit_core.params import get_bool, get_int

    extras = dict(extras)  # typed reads: --steps abc is one line and exit 2, like every option
    seeds = extras.pop("seeds", "0-7")
    interp = extras.pop("interpolate", None)
    interpolate = None
    if interp is not None:
        parts = interp.replace(",", " ").split()
        if len(parts) != 2:
            raise UsageError("--interpolate takes two seeds, e.g. --interpolate 3,9 with 'run generate'")
        interpolate = (
            get_int({"interpolate": parts[0]}, "interpolate", 0),
            get_int({"interpolate": parts[1]}, "interpolate", 0),
        )
    own = {k: extras.pop(k) for k in ("steps", "grid", "gif") if k in extras}
    return generate_images(
        model=model,
        seeds=seeds,
        weights=weights,
        device=device,
        dtype=dtype,
        out_dir=out_dir,
        grid=get_bool(own, "grid", False),
        interpolate=interpolate,
        steps=get_int(own, "steps", 8),
        gif=get_bool(own, "gif", False),
        as_json=as_json,
        extras=extras,
        overwrite=overwrite,
        skip_existing=skip_existing,
    )
