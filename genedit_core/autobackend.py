"""``--backend auto``: run each model in the runtime measured fastest for it on this machine.

Why a table and not a rule: which runtime wins depends on the CPU (AMX or AVX2 only), the
precision genedit chose for the card, the network and the image size, and the issue's own
measurements show the order changing between machines. So ``genedit bench MODEL --compare``
measures every installed path and records the times here; ``auto`` only reads them.

The table is one JSON file, ``backends.json`` in :func:`~genedit_core.weights.genedit_cache_dir`.
One entry per (device, model and scale, dtype, size bucket) holds the median time of each runtime
measured, so that a runtime uninstalled since the measurement is skipped for the next fastest.
It is replaced in one rename, so a reader never sees half a file; a file that does not parse is
ignored after one warning, and ``auto`` falls back to the static preference. Writers take an
exclusive lock on a sidecar file (``backends.json.lock``) around their read-modify-write, so two
``genedit bench --compare`` processes measuring different models at once both keep their entry:
without it, the second rename would carry a table read before the first one's entry existed.

**The static preference is torch**, used when the table has nothing for the model on this device
and dtype: torch is always installed, needs no conversion (OpenVINO's first conversion of a large
network takes seconds to a minute), runs every model and every hook, and gives the outputs the
cards' quality numbers were measured with. A converting runtime is chosen only once it was
measured faster, with outputs that agreed, on this machine.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cards import ModelCard

TABLE_NAME = "backends.json"
TABLE_VERSION = 1
#: The runtime ``auto`` uses for a model the table knows nothing about on this device (see above).
STATIC_PREFERENCE = "torch"
#: Image size buckets: the longest side, rounded up to one of these (larger: ``BUCKETS[-1]+``).
BUCKETS = (64, 128, 256, 512, 1024, 2048)
LATENT_BUCKET = "latent"

log = logging.getLogger("genedit.backends")
_warned: set[str] = set()


@dataclass(frozen=True)
class BackendChoice:
    """What ``auto`` resolved to, and why (``genedit --verbose run`` prints ``reason``)."""

    backend: str
    reason: str


def table_path() -> Path:
    """Where the auto table lives: ``backends.json`` in genedit's cache folder."""
    from .weights import genedit_cache_dir

    return genedit_cache_dir() / TABLE_NAME


def size_bucket(size: tuple[int, int] | None) -> str:
    """The bucket of an input of ``size`` (H, W): ``"512"`` for a longest side in 257–512.

    ``None`` (a model that takes latents) is ``"latent"``.
    """
    if size is None:
        return LATENT_BUCKET
    side = max(int(size[0]), int(size[1]))
    for b in BUCKETS:
        if side <= b:
            return str(b)
    return f"{BUCKETS[-1]}+"


def _bucket_side(bucket: str) -> float:
    if bucket == LATENT_BUCKET:
        return 0.0
    return float(bucket.rstrip("+")) * (2.0 if bucket.endswith("+") else 1.0)


def cpu_name() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (the platform's processor string elsewhere)."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_key(device: Any) -> str:
    """This machine's device as the table keys it: ``cpu:<model name>``, ``cuda:<card name>``.

    Measurements carry over between machines with the same processor, not between a CPU with
    AMX and one with AVX2 only, so the key names the processor rather than the host, and the
    oneDNN ISA cap (``ONEDNN_MAX_CPU_ISA``) when one is set.
    """
    kind = getattr(device, "type", str(device)).split(":")[0]
    if kind == "cpu":
        from .device import onednn_isa_cap

        cap = onednn_isa_cap()  # capped, the same processor runs other kernels: its own rows
        return f"cpu:{cpu_name()}" + (f" (ISA cap {cap})" if cap else "")
    if kind == "cuda":
        import torch

        return f"cuda:{torch.cuda.get_device_name(device)}"
    return kind


def model_key(card: ModelCard, scale: int | None) -> str:
    """``plugin:name xS``: the card and scale (the scale changes the network's tail)."""
    name = f"{card.plugin}:{card.name}" if card.plugin else card.name
    return f"{name} x{scale}" if scale else name


def entry_key(device: str, model: str, dtype: str, bucket: str) -> str:
    return f"{device}|{model}|{dtype}|{bucket}"


def read_table(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """The table's entries by key; empty when there is no table, and when it does not parse.

    A table that does not parse (a disk filled up, an edit by hand) is ignored: ``auto`` then uses
    the static preference, and one warning per process names the file and says how to refill it.
    """
    path = path or table_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        _warn_once(path, f"cannot read it ({exc.strerror or exc})")
        return {}
    try:
        data = json.loads(text)
        entries = data["entries"]
        if data.get("version") != TABLE_VERSION or not isinstance(entries, dict):
            raise ValueError(f"version {data.get('version')!r}, expected {TABLE_VERSION}")
        good = {k: v for k, v in entries.items() if isinstance(v, dict) and _times(v)}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        _warn_once(path, f"it is not a backend table ({type(exc).__name__}: {exc})")
        return {}
    return good


def _warn_once(path: Path, cause: str) -> None:
    from .api import GeneditWarning

    if str(path) in _warned:
        return
    _warned.add(str(path))
    warnings.warn(
        f"{path}: ignored, {cause}; --backend auto uses {STATIC_PREFERENCE} until "
        "'genedit bench MODEL --compare' writes it again",
        GeneditWarning,
        stacklevel=3,
    )


def _times(entry: dict[str, Any]) -> dict[str, float]:
    times = entry.get("times_ms")
    if not isinstance(times, dict):
        return {}
    return {str(k): float(v) for k, v in times.items() if isinstance(v, (int, float)) and v > 0}


def write_table(entries: dict[str, dict[str, Any]], path: Path | None = None) -> Path:
    """Write ``entries`` as the whole table, atomically: a temporary file in the same folder,
    flushed to disk, then renamed over the old one, so a reader sees the old table or the new."""
    return write_json_atomic(path or table_path(), {"version": TABLE_VERSION, "entries": entries})


def write_json_atomic(path: Path, data: Any) -> Path:
    """Write ``data`` as JSON to ``path``: a temporary file in the same folder, flushed to disk,
    then renamed over the old one (readable by others, as the umask allows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
            f.flush()
            os.fsync(f.fileno())
        from .images import _umask

        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's 0600 would hide the table from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def table_lock(path: Path | None = None) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the table at ``path``.

    The lock is ``fcntl.flock`` on ``<table>.lock`` beside it (the table itself is replaced by a
    rename, so a lock on its own inode would not outlive the first write). Readers take no lock:
    they see the old table or the new one. Where ``fcntl`` does not exist (Windows), or the lock
    file cannot be created (a read-only cache, whose write then fails anyway), it does not lock.
    """
    path = path or table_path()
    try:
        import fcntl
    except ImportError:  # not POSIX: the rename still keeps the file whole
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def record_backend_times(
    card: ModelCard,
    scale: int | None,
    device: Any,
    dtype: str,
    size: tuple[int, int] | None,
    times_ms: dict[str, float],
    *,
    path: Path | None = None,
) -> dict[str, Any]:
    """Record the median ``times_ms`` of each runtime (``"torch"`` included) for one model on this
    device, at ``dtype`` and the bucket of ``size``; returns the entry written, with the table's
    path under ``"table"``.

    Only runtimes whose outputs the caller checked belong here: ``auto`` picks the fastest one
    still installed. The entry replaces any earlier one for the same key; other entries stay.
    """
    if not times_ms:
        raise ValueError("no times to record")
    from ._version import __version__

    dev = device_key(device)
    model = model_key(card, scale)
    bucket = size_bucket(size)
    entry = {
        "device": dev,
        "model": model,
        "dtype": dtype,
        "bucket": bucket,
        "times_ms": {k: round(float(v), 3) for k, v in sorted(times_ms.items())},
        "winner": min(times_ms, key=lambda k: times_ms[k]),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "genedit": __version__,
    }
    with table_lock(path):  # another process's entry, written since we started, is kept
        entries = read_table(path)
        entries[entry_key(dev, model, dtype, bucket)] = entry
        written = write_table(entries, path)
    return {**entry, "table": str(written)}


def installed_backends(kind: str | None = None) -> list[str]:
    """Names of the installed runtimes of the ``genedit.backends`` group (``torch`` is not one).

    ``kind="convert"`` keeps those that take over a built model (``convert(model)``), and
    ``kind="file"`` those that run an exported file; either loads the entry points to tell.
    """
    from importlib import metadata

    names = sorted({ep.name for ep in metadata.entry_points(group="genedit.backends")})
    if kind is None:
        return names
    if kind not in ("convert", "file"):
        raise ValueError(f"kind must be 'convert', 'file' or None, got {kind!r}")
    from .api import find_backend

    kept = []
    for name in names:
        try:
            converts = callable(getattr(find_backend(name), "convert", None))
        except Exception as exc:  # a broken runtime is left out, with the reason in the log
            log.info("backend %s left out: %s", name, exc)
            continue
        if converts == (kind == "convert"):
            kept.append(name)
    return kept


def resolve_auto(
    card: ModelCard,
    scale: int | None,
    device: Any,
    dtype: str,
    size: tuple[int, int] | None,
    *,
    latent: bool = False,
    path: Path | None = None,
) -> BackendChoice:
    """The runtime ``auto`` runs ``card`` in on ``device`` at ``dtype`` for inputs of ``size``.

    The table entry for this exact bucket decides; without one, the measured bucket nearest in
    size (for this device, model and dtype), or the largest measured when ``size`` is not known
    (large inputs are where the time goes); without any, :data:`STATIC_PREFERENCE`. Of the
    runtimes measured, the fastest that is still installed wins. ``latent``: the model takes
    latents, whose bucket is ``"latent"`` whatever ``size``.
    """
    entries = read_table(path)
    dev, model = device_key(device), model_key(card, scale)
    bucket = LATENT_BUCKET if latent else (size_bucket(size) if size else None)
    where = f"{model} at {dtype} on {dev}"
    entry = entries.get(entry_key(dev, model, dtype, bucket)) if bucket else None
    near = ""
    if entry is None:
        same = [
            e
            for e in entries.values()
            if (e.get("device"), e.get("model"), e.get("dtype")) == (dev, model, dtype)
        ]
        if not same:
            return BackendChoice(
                STATIC_PREFERENCE,
                f"no measurement in {path or table_path()} for {where}; "
                f"the static preference is {STATIC_PREFERENCE} ('genedit bench MODEL --compare' measures)",
            )
        if bucket is None:
            entry = max(same, key=lambda e: _bucket_side(str(e.get("bucket"))))
            near = ", input size not known: the largest measured bucket"
        else:
            target = _bucket_side(bucket)
            entry = min(same, key=lambda e: abs(_bucket_side(str(e.get("bucket"))) - target))
            near = f", the nearest measured to {bucket}"
    times = _times(entry)
    have = set(installed_backends()) | {"torch"}
    ranked = sorted((t, name) for name, t in times.items() if name in have)
    missing = sorted(set(times) - have)
    gone = f"; not installed now: {', '.join(missing)}" if missing else ""
    if not ranked:
        return BackendChoice(STATIC_PREFERENCE, f"no measured runtime of {where} is installed{gone}")
    best_t, best = ranked[0]
    others = ", ".join(f"{n} {t:.1f} ms" for t, n in ranked[1:])
    return BackendChoice(
        best,
        f"fastest measured for {where}, size bucket {entry.get('bucket')}{near}: {best} {best_t:.1f} ms"
        + (f" (vs {others})" if others else "")
        + f", measured {entry.get('measured', '?')}{gone}",
    )
