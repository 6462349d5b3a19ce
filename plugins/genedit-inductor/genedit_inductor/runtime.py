"""Compile a built genedit model with inductor ahead of time, check it against eager torch, cache it.

What is compiled is the model's whole ``forward`` (value range, mean shift and all), exported with
``torch.export`` and compiled by AOTInductor with frozen weights (constant folding, and oneDNN
weight prepacking and conv fusions on the CPU) into one ``.pt2`` package. Why ahead of time rather
than ``torch.compile`` in each process: ``torch.compile`` re-traces the model in every new process
(seconds even with inductor's own caches warm); an AOTInductor package is loaded in a fraction of a
second and never traces or compiles again, so the second process pays no compile cost.

**Buckets.** Batch, height and width are exported as symbolic sizes: one program serves every tile
and every image size whose sides lie in ``MIN_SIDE..MAX_SIDE`` (in steps of the model's
``size_multiple``), with no padding, so its output matches untiled eager output to float rounding,
the tiler's narrow last pieces included. A side below ``MIN_SIDE`` is padded by reflection up to it
(replication for a 1-pixel side) and the output cropped back; a side above ``MAX_SIDE`` (the tiler
keeps tiles far below it) runs eagerly. Padding is kept to that corner on purpose: a network that
zero-pads its convs sees the image border differently once it is padded, so a padded bucket would
change the pixels next to the padded border. On the build machine a
program specialised to one static shape ran about 15 % faster than the symbolic one, but it would
need one compile per shape, or padding and tile overlap that cost more than that.

**Precision and layout** follow the core's choice: bf16 only where the core chose it (a
``bf16_safe`` card on a CPU with native bf16), then with channels-last inputs, as for the torch
path; otherwise the model's dtype and the card's layout.

Before it is used, the program runs on a probe of another batch and shape and is compared with
eager torch at the same dtype. A model that does not export, does not compile or differs runs in
torch after one warning line; the failure is cached too. ``COUNTS`` counts compiles, checks, cache
reads and package loads in this process (tests and ``genedit --verbose`` use them).
"""

from __future__ import annotations

import atexit
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genedit_core.sdk import forward_module, publish_folder

from .cache import cache_key, cache_root, cpu_signature

if TYPE_CHECKING:
    import torch

    from genedit_core.sdk import LoadedModel

log = logging.getLogger("genedit.inductor")
COUNTS: Counter[str] = Counter()

NAME = "torch-compile"
#: the side of the example input the export traces (any side in the bucket would do)
EXAMPLE_SIDE = 64
#: the smallest and largest side the program takes (before rounding to ``size_multiple``); small,
#: because padding changes the pixels next to the padded border, and the tiler's last pieces are narrow
MIN_SIDE = 2
MAX_SIDE = 8192
MAX_BATCH = 1024
#: the probe the compiled program must match eager torch on: another batch and a non-square shape
PROBE_SHAPE = (37, 53)
#: max |compiled - eager| on the probe, outputs being 0-1 images; bf16 rounds to 2^-8 near 1
TOLERANCE = {"fp32": 1e-4, "bf16": 0.0625, "fp16": 0.0625}


class NotCompiled(Exception):
    """Why a model runs in torch instead; the message ends up in the one warning line."""


def to_compiled(model: LoadedModel) -> LoadedModel:
    """``model`` running as a compiled program (``backend`` ``"torch-compile"``), or ``model`` after a
    warning why not."""
    from genedit_core.sdk import GeneditWarning

    try:
        return _compiled(model, retry=True)
    except NotCompiled as exc:
        warnings.warn(f"{NAME}: model '{model.name}' runs in torch: {exc}", GeneditWarning, stacklevel=3)
        return model


def _compiled(model: LoadedModel, retry: bool) -> LoadedModel:
    torch = _torch()
    if model.backend != "torch":
        raise NotCompiled(f"it already runs in {model.backend}")
    if not isinstance(model.module, torch.nn.Module):
        raise NotCompiled("its plugin gives no torch module to compile")
    if getattr(model.device, "type", str(model.device)) != "cpu":
        raise NotCompiled(f"this backend compiles for the CPU, and the model is on {model.device}")
    fields = key_fields(model)
    entry = cache_root() / cache_key(fields)
    cached = (entry / "check.json").is_file()
    if not cached:
        try:
            publish_folder(entry, lambda folder: _compile_into(folder, model, fields))
        except OSError as exc:  # an unwritable cache: compile for this process only
            log.info("%s: cannot write the cache (%s); compiling without it", NAME, exc)
            entry = Path(tempfile.mkdtemp(prefix="genedit-inductor-"))
            atexit.register(shutil.rmtree, entry, True)
            _compile_into(entry, model, fields)
    else:
        COUNTS["cache_hit"] += 1
        log.info("%s: %s from the cache (%s)", NAME, model.name, entry)
    check = json.loads((entry / "check.json").read_text())
    if not check.get("ok"):
        raise NotCompiled(str(check.get("reason", "it did not compile")))
    try:
        runner = _load_package(entry / "model.pt2")
    except Exception as exc:
        if not (cached and retry):
            raise NotCompiled(f"its compiled program does not load ({_first_line(exc)})") from None
        # a damaged entry (a file truncated or removed by hand): drop it and compile once more
        log.info("%s: cache entry %s is damaged (%s); compiling again", NAME, entry, _first_line(exc))
        shutil.rmtree(entry, ignore_errors=True)
        return _compiled(model, retry=False)
    return _wrap(model, runner, entry, check)


def key_fields(model: LoadedModel) -> dict[str, Any]:
    """What the compiled program depends on: card, weights sha256, scale, dtype, input bucket, the
    torch version and this CPU's flags (and the model's hyperparameters, which shape the network)."""
    from genedit_core.sdk import model_fields

    torch = _torch()
    return {
        **model_fields(model),
        "input": input_bucket(model),
        "torch": torch.__version__,
        "cpu": cpu_signature(),
    }


def input_bucket(model: LoadedModel) -> str:
    """The inputs the one program accepts: ``?x3x[2..8192]x[2..8192]/1 channels_last``, ``?`` a
    free batch, the sides' range and step, and the memory layout."""
    if model.takes_latent:
        assert model.latent_shape is not None
        return "x".join(["?", *map(str, model.latent_shape)])
    lo, hi, step = side_range(model)
    layout = "channels_last" if channels_last(model) else "contiguous"
    return f"?x{model.in_channels}x[{lo}..{hi}]x[{lo}..{hi}]/{step} {layout}"


def side_range(model: LoadedModel) -> tuple[int, int, int]:
    """(smallest, largest, step) of the sides the program takes, aligned to ``size_multiple``."""
    m = max(1, int(model.size_multiple))
    lo = -(-max(MIN_SIDE, int(model.min_size)) // m) * m
    return lo, MAX_SIDE // m * m, m


def channels_last(model: LoadedModel) -> bool:
    """Channels-last inputs where the card asks for them, and for bf16 (oneDNN's fast bf16 convs)."""
    torch = _torch()
    return bool(model.card.channels_last) or model.dtype == torch.bfloat16


def pad_to_bucket(x: torch.Tensor, lo: int) -> tuple[torch.Tensor, int, int]:
    """``x`` with sides below ``lo`` padded up to it at the bottom and right, by reflection (by
    replication where the side is too short to reflect); also the padding added, to crop it off."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = max(0, lo - h), max(0, lo - w)
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, ph, pw


def crop_to(y: torch.Tensor, x_shape: tuple[int, ...], padded_shape: tuple[int, ...]) -> torch.Tensor:
    """The part of ``y`` that belongs to an input of ``x_shape`` padded to ``padded_shape``."""
    if tuple(x_shape[-2:]) == tuple(padded_shape[-2:]):
        return y
    s = y.shape[-1] // padded_shape[-1]
    return y[..., : x_shape[-2] * s, : x_shape[-1] * s]


def _compile_into(folder: Path, model: LoadedModel, fields: dict[str, Any]) -> None:
    """Fill a new cache folder: the package, the check against eager torch, the key (a failure too)."""
    (folder / "key.json").write_text(json.dumps(fields, indent=1, sort_keys=True, default=str))
    torch = _torch()
    started = time.perf_counter()
    with _showing_progress(model.name, folder.parent), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # export's and inductor's notes are about torch internals
        COUNTS["compile"] += 1
        try:
            exported = _export(model)
        except Exception as exc:
            check = {"ok": False, "reason": f"it does not export ({_first_line(exc)})"}
        else:
            try:
                import torch._inductor

                path = torch._inductor.aoti_compile_and_package(
                    exported, package_path=str(folder / "model.pt2"), inductor_configs={"freezing": True}
                )
            except Exception as exc:
                check = {"ok": False, "reason": f"inductor cannot compile it ({_first_line(exc)})"}
            else:
                check = _check(Path(path), model)
    check["compile_s"] = round(time.perf_counter() - started, 3)
    (folder / "check.json").write_text(json.dumps(check, indent=1))


def _export(model: LoadedModel) -> Any:
    torch = _torch()
    from torch.export import Dim

    example = _example(model, (EXAMPLE_SIDE, EXAMPLE_SIDE), batch=2)
    dims: dict[int, Any] = {0: Dim("batch", min=1, max=MAX_BATCH)}
    if not model.takes_latent:
        lo, hi, step = side_range(model)
        for axis, name in ((2, "height"), (3, "width")):
            if step == 1:
                dims[axis] = Dim(name, min=lo, max=hi)
            else:
                dims[axis] = step * Dim(f"{name}_blocks", min=lo // step, max=hi // step)
    with torch.no_grad():
        return torch.export.export(forward_module(model), (example,), dynamic_shapes={"x": dims})


def _example(model: LoadedModel, side: tuple[int, int], batch: int) -> torch.Tensor:
    """A seeded input in the model's dtype and layout: images of ``side`` (aligned), or latents."""
    torch = _torch()
    gen = torch.Generator().manual_seed(0)
    if model.takes_latent:
        assert model.latent_shape is not None
        return torch.randn(batch, *model.latent_shape, generator=gen).to(model.dtype)
    m = max(1, model.size_multiple)
    h, w = (max(model.min_size, -(-s // m) * m) for s in side)
    x = torch.rand(batch, model.in_channels, h, w, generator=gen).to(model.dtype)
    return x.contiguous(memory_format=torch.channels_last) if channels_last(model) else x


def _check(path: Path, model: LoadedModel) -> dict[str, Any]:
    """Run the program on a probe of another batch and shape and compare with eager torch."""
    from genedit_core.sdk import dtype_name

    torch = _torch()
    COUNTS["check"] += 1
    probe = _example(model, PROBE_SHAPE, batch=3 if model.takes_latent else 1)
    try:
        with torch.no_grad():
            got = _load_package(path)(probe).float()
    except Exception as exc:
        return {"ok": False, "reason": f"its compiled program does not run ({_first_line(exc)})"}
    with torch.no_grad():
        want = model.forward(probe).float()
    from genedit_core.sdk import probe_check

    shape = "x".join(map(str, probe.shape))
    return probe_check(
        got, want, shape, TOLERANCE.get(dtype_name(model.dtype), 1e-4), reference="eager torch"
    )


def _load_package(path: Path) -> Any:
    """A callable running the package at ``path`` (one tensor in, one out).

    torch's own loader class, when this torch has it: ``torch._inductor.aoti_load_package`` returns
    the same runner, but importing ``torch._inductor`` first costs a second or more per process.
    """
    torch = _torch()
    COUNTS["load"] += 1
    aoti = getattr(torch._C, "_aoti", None)
    if aoti is None or not hasattr(aoti, "AOTIModelPackageLoader"):
        import torch._inductor

        return torch._inductor.aoti_load_package(str(path))
    loader = aoti.AOTIModelPackageLoader(str(path), "model", False, 1, -1)
    return lambda x: loader.boxed_run([x])[0]


def _wrap(model: LoadedModel, runner: Any, entry: Path, check: dict[str, Any]) -> LoadedModel:
    torch = _torch()
    lo, hi, _ = side_range(model)
    layout = torch.channels_last if channels_last(model) else torch.contiguous_format
    eager = model.forward

    def forward(x: torch.Tensor) -> torch.Tensor:
        if model.takes_latent:
            return runner(x.to(model.dtype).contiguous())
        if max(x.shape[-2:]) > hi or x.shape[0] > MAX_BATCH:
            return eager(x)  # outside the bucket; the tiler never gets here
        xin, ph, pw = pad_to_bucket(x, lo)
        y = runner(xin.to(model.dtype).contiguous(memory_format=layout))
        return crop_to(y, tuple(x.shape), tuple(xin.shape)) if ph or pw else y

    return replace(
        model,
        forward=forward,
        backend=NAME,
        hyperparameters={
            **model.hyperparameters,
            NAME: {"cache": str(entry), "input": input_bucket(model), "compile_s": check.get("compile_s")},
        },
    )


@contextmanager
def _showing_progress(name: str, where: Path) -> Iterator[None]:
    """Say on stderr that a first compile is under way (minutes for big networks): on a terminal a
    line whose seconds count up, elsewhere one line before and one after."""
    stream = sys.stderr
    message = f"{NAME}: compiling '{name}' for this CPU, once (cached in {where})"
    started = time.perf_counter()
    tty = bool(getattr(stream, "isatty", lambda: False)())
    done = threading.Event()

    def tick() -> None:
        while not done.wait(1.0):
            stream.write(f"\r{message} ... {time.perf_counter() - started:.0f} s")
            stream.flush()

    thread = threading.Thread(target=tick, daemon=True) if tty else None
    stream.write(message + (" ..." if tty else "\n"))
    stream.flush()
    if thread:
        thread.start()
    try:
        yield
    finally:
        done.set()
        if thread:
            thread.join()
        took = time.perf_counter() - started
        stream.write((f"\r{message} ... done in {took:.0f} s\n") if tty else f"{NAME}: took {took:.0f} s\n")
        stream.flush()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _torch() -> Any:
    import torch

    return torch
