"""Weight resolution: from a user's ``--weights`` spec (or a card's default) to a local file.

A spec is one of:

* a variant name from the model card (``bundled``, ``official``, ...);
* ``hf://owner/repo[/path/in/repo][@revision]``;
* a local path: a weights file, or a folder written by ``genedit save`` / a training run.

Hub files go through :func:`huggingface_hub.hf_hub_download`, so they land in the normal HF cache
and honour ``HF_HOME``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, ``HF_ENDPOINT`` and ``HF_TOKEN``. These
are read at call time (not at import) so a long-lived process sees changes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .cards import ModelCard, WeightVariant
from .errors import UsageError, WeightsError

log = logging.getLogger("genedit")

WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")
FOLDER_WEIGHT_NAMES = ("model.safetensors", "weights.safetensors", "last.safetensors")


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
        body = spec[len("hf://") :]
        revision = None
        if "@" in body:
            body, revision = body.rsplit("@", 1)
        parts = [p for p in body.split("/") if p]
        if len(parts) < 2:
            raise UsageError(f"Bad Hub weights spec '{spec}': expected hf://owner/repo[/file][@revision]")
        filename = "/".join(parts[2:]) or None
        return cls("/".join(parts[:2]), filename, revision or None)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _hub_cache_dir() -> str | None:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def hub_download(
    repo_id: str, filename: str, revision: str | None = None, *, optional: bool = False
) -> Path | None:
    """Fetch one file through the HF cache; with ``optional`` a missing file returns ``None``."""
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
    where = f"hf://{repo_id}/{filename}@{revision or 'main'}"
    if not kwargs["local_files_only"] and not _hub_reachable(repo_id, filename, kwargs):
        kwargs["local_files_only"] = True  # the cache may still hold it; never wait on retries
    try:
        return Path(hf_hub_download(repo_id, filename, **kwargs))
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


def _hub_reachable(repo_id: str, filename: str, kwargs: dict[str, Any]) -> bool:
    """One metadata request without retries: is the Hub there at all?

    ``hf_hub_download`` retries an unreachable Hub with backoff for about 25 s before it gives up
    on a file that is not cached, which would stall the bundled fallback and every offline run.
    A cached pinned commit needs no request, so it is answered from the cache directly.
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_url, try_to_load_from_cache

    revision = kwargs["revision"] or "main"
    if _COMMIT_RE.fullmatch(revision):
        cached = try_to_load_from_cache(repo_id, filename, cache_dir=kwargs["cache_dir"], revision=revision)
        if isinstance(cached, str):
            return True  # hf_hub_download returns it without any request
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=kwargs.get("endpoint"))
    try:
        get_hf_file_metadata(
            url,
            token=kwargs["token"],
            library_name=kwargs["library_name"],
            library_version=kwargs["library_version"],
            endpoint=kwargs.get("endpoint"),
        )
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return not (_is_connection_problem(exc) or (isinstance(status, int) and status >= 500))
    return True


_COMMIT_RE = re.compile(r"[0-9a-f]{40}")


class HubUnavailable(WeightsError):
    """The Hub could not be reached and the file is not in the local cache."""

    def __init__(self, where: str):
        super().__init__(f"{where}: the Hub is not reachable and the file is not in the local cache")
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
    actual = sha256_of(path)
    if expected and actual.lower() != expected.lower():
        raise WeightsError(
            f"{origin}: sha256 mismatch (expected {expected[:12]}…, got {actual[:12]}…); "
            f"the file at {path} is not the published one: pin the right revision or delete it from the cache"
        )
    return actual


def _read_config(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path}: config.json is not valid JSON ({exc})") from None
    return data if isinstance(data, dict) else {}


def _variant_file(card: ModelCard, variant: WeightVariant, scale: int | None):
    wf = variant.file_for(scale)
    if wf is None:
        have = ", ".join(f"x{s}" for s in sorted(variant.files) if s)
        raise UsageError(f"{card.name}: variant '{variant.name}' has no weights for x{scale} (it has {have})")
    return wf


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
    assert variant.hf_hub_id is not None
    path = hub_download(variant.hf_hub_id, wf.filename, variant.revision)
    assert path is not None
    origin = f"hf://{variant.hf_hub_id}/{wf.filename}@{variant.revision}"
    sha = _check_sha(path, wf.sha256, origin)
    config = dict(variant.config)
    cfg_name = str(Path(wf.filename).parent / "config.json").lstrip("./")
    cfg_path = hub_download(variant.hf_hub_id, cfg_name, variant.revision, optional=True)
    config.update(_read_config(cfg_path))
    return ResolvedWeights(path, origin, sha, variant.name, config)


def resolve_hub_spec(spec: str) -> ResolvedWeights:
    hub = HubSpec.parse(spec)
    filename = hub.filename
    if filename is None or not Path(filename).suffix:
        folder = f"{filename}/" if filename else ""
        for name in FOLDER_WEIGHT_NAMES:
            path = hub_download(hub.repo_id, folder + name, hub.revision, optional=True)
            if path is not None:
                filename = folder + name
                break
        else:
            raise WeightsError(f"{spec}: no {' or '.join(FOLDER_WEIGHT_NAMES)} in that repository")
    else:
        path = hub_download(hub.repo_id, filename, hub.revision)
    assert path is not None
    parent = str(Path(filename).parent)
    cfg_name = "config.json" if parent in ("", ".") else f"{parent}/config.json"
    config = _read_config(hub_download(hub.repo_id, cfg_name, hub.revision, optional=True))
    origin = f"hf://{hub.repo_id}/{filename}@{hub.revision or 'main'}"
    return ResolvedWeights(path, origin, sha256_of(path), None, config)


def resolve_local(spec: str) -> ResolvedWeights:
    path = Path(spec).expanduser()
    if path.is_dir():
        candidates = [path / n for n in FOLDER_WEIGHT_NAMES] + [path / "checkpoints" / "best.safetensors"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise WeightsError(f"{path}: folder holds no {' / '.join(FOLDER_WEIGHT_NAMES)}")
        path = found
    if not path.exists():
        raise WeightsError(f"{spec}: weights file not found")
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
