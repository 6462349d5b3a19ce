"""``genedit generate``: sample images from a generative model and write them, a grid and a GIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from genedit_core.errors import PluginError, UsageError

from .checks import check_generate_options
from .console import err, out
from .params import parse_seeds


def generate_images(
    *,
    model: str,
    seeds: str,
    weights: str | None,
    device: str,
    dtype: str,
    out_dir: str | None,
    grid: bool,
    truncation: float | None,
    class_: str | None,
    interpolate: tuple[int, int] | None,
    steps: int,
    gif: bool,
    style_mix: int | None,
    as_json: bool,
    extras: dict[str, str],
) -> int:
    from genedit_core.api import get_card, load
    from genedit_core.device import dtype_name
    from genedit_core.images import ImageData, write_image

    card = get_card(model)
    if "generate" not in card.tasks:
        raise UsageError(f"model '{card.name}' does not generate images (it does: {', '.join(card.tasks)})")
    if truncation is not None and not 0.0 <= truncation <= 1.0:
        raise UsageError(f"--truncation {truncation}: expected a value in [0, 1]")
    check_generate_options(
        device=device, dtype=dtype, steps=steps, interpolate=interpolate, style_mix=style_mix
    )
    seed_list = list(interpolate) if interpolate else parse_seeds(seeds)
    loaded = load(card.name, weights=weights, device=device, dtype=dtype)
    params: dict[str, Any] = {
        **extras,
        "truncation": truncation,
        "class": class_,
        "interpolate": tuple(interpolate) if interpolate else None,
        "steps": steps,
        "style_mix": style_mix,
    }
    # LoadedModel.generate checks what the plugin returns (count, shape, NaN) before anything is written
    images = loaded.generate(seed_list, **params).detach().float().cpu().clamp(0, 1)
    folder = Path(out_dir) if out_dir else Path("generated") / card.name
    names = (
        [f"frame{i:03d}.png" for i in range(len(images))]
        if interpolate
        else [f"seed{s:04d}.png" for s in seed_list]
    )
    if len(names) != len(images):
        raise PluginError(f"{card.name}: plugin returned {len(images)} images for {len(names)} requests")
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
    written: list[str] = []
    arrays = [img.numpy().transpose(1, 2, 0) for img in images]
    for name, arr, seed in zip(names, arrays, seed_list if not interpolate else [None] * len(names)):
        extra = {"seed": seed} if seed is not None else {}
        written.append(str(write_image(folder / name, ImageData(arr), provenance={**prov, **extra})))
    if grid or interpolate:
        path = folder / "grid.png"
        written.append(str(write_image(path, ImageData(make_grid(arrays)), provenance=prov)))
    if interpolate and gif:
        written.append(str(write_gif(folder / "interpolation.gif", arrays)))
    if as_json:
        out.print_json(json.dumps({**prov, "seeds": seed_list, "outputs": written}))
    else:
        for w in written:
            out.print(w)
        err.print(f"{len(images)} image(s) from {card.name} on {loaded.device} ({dtype_name(loaded.dtype)})")
    return 0


def make_grid(arrays: list[np.ndarray], pad: int = 2) -> np.ndarray:
    """Tile H×W×C arrays into a near-square grid with a white border."""
    n = len(arrays)
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    h, w, c = arrays[0].shape
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.float32)
    for i, a in enumerate(arrays):
        r, q = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + q * (w + pad)
        canvas[y : y + h, x : x + w] = a
    return canvas


def write_gif(path: Path, arrays: list[np.ndarray], ms: int = 80) -> Path:
    """Atomically write an animated GIF that plays forwards then back."""
    import os
    import tempfile

    from PIL import Image

    frames = [Image.fromarray(np.round(np.clip(a, 0, 1) * 255).astype(np.uint8).squeeze()) for a in arrays]
    frames = frames + frames[-2:0:-1]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def generate_from_run(
    model: str, inputs: list[str], extras: dict[str, str], weights, device, dtype, out_dir, as_json
) -> int:
    """``genedit run generate --model M --seeds ...``: the same as ``genedit generate M ...``."""
    if inputs:
        raise UsageError("generate takes no input images (did you mean another task?)")
    from genedit_core.params import get_float, get_int

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
    return generate_images(
        model=model,
        seeds=seeds,
        weights=weights,
        device=device,
        dtype=dtype,
        out_dir=out_dir,
        grid=extras.pop("grid", "false") == "true",
        truncation=get_float(extras, "truncation", None),
        class_=extras.pop("class", None),
        interpolate=interpolate,
        steps=get_int(extras, "steps", 8),
        gif=extras.pop("gif", "false") == "true",
        style_mix=get_int(extras, "style_mix", None),
        as_json=as_json,
        extras={k: v for k, v in extras.items() if k not in ("truncation", "steps", "style_mix")},
    )
