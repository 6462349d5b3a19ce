"""A small Hugging Face Hub emulator for tests: enough of ``/resolve`` for ``hf_hub_download``.

It mirrors what ``huggingface_hub`` 2.x asks of the real Hub when it downloads one file:

* ``HEAD /{repo_id}/resolve/{revision}/{filename}`` must answer with ``X-Repo-Commit`` (the commit
  the revision points to) and an ETag. Small "git" files answer 200 with ``ETag`` (git blob sha1)
  and ``Content-Length``. Large "LFS" files answer 302 to a CDN host, with ``X-Linked-Etag`` (the
  sha256, which becomes the blob name in the cache), ``X-Linked-Size`` and ``Location``; the client
  does not follow a redirect to another origin on HEAD, it downloads the ``Location`` with GET.
  The "CDN" here is a second listener on another port, so that flow is exercised for real.
* Errors are 404s with ``X-Error-Code``: ``RepoNotFound``, ``RevisionNotFound`` or ``EntryNotFound``
  (the last also carries ``X-Repo-Commit``, which the client uses to cache the file's absence).

Files live in memory as ``{(repo_id, revision_or_commit): {filename: bytes}}``. A key whose revision
is a 40-hex sha is a commit; any other revision is a branch name that is mapped to a fresh commit
sha. Every request is logged, so a test can count downloads, and :meth:`stop` closes both ports so
that connections are refused, like a machine that is offline.

Two hostile modes, off unless a test asks: :meth:`tamper` makes the emulator a tampered mirror that
serves other bytes under an existing commit and file name, and :attr:`header_overrides` replaces
headers of every ``/resolve`` answer (a commit or ETag that is a path, say).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

SHA_RE = re.compile(r"^[0-9a-f]{40}$")
LFS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin", ".ckpt")


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    repo_id: str | None = None
    revision: str | None = None
    filename: str | None = None
    body_bytes: int = 0


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


class HubEmulator:
    """Serve in-memory repositories over HTTP on 127.0.0.1 (random ports) until :meth:`stop`."""

    def __init__(self, repos: Mapping[tuple[str, str], Mapping[str, bytes]] | None = None):
        self.commits: dict[tuple[str, str], dict[str, bytes]] = {}
        self.refs: dict[tuple[str, str], str] = {}
        self.blobs: dict[str, bytes] = {}
        self.log: list[Request] = []
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.hub_port = 0
        self.cdn_port = 0
        self.header_overrides: dict[str, str] = {}
        for (repo_id, revision), files in (repos or {}).items():
            self.add_commit(repo_id, files, revision)

    # ---- content -------------------------------------------------------------------------------
    def add_commit(self, repo_id: str, files: Mapping[str, bytes], revision: str = "main") -> str:
        """Add a commit holding ``files``; a branch ``revision`` is moved to it. Returns the sha."""
        if SHA_RE.match(revision):
            sha = revision
        else:
            seed = f"{repo_id}\x00{revision}\x00{len(self.commits)}".encode()
            for name in sorted(files):
                seed += name.encode() + b"\x00" + hashlib.sha256(files[name]).digest()
            sha = hashlib.sha1(seed).hexdigest()
            self.refs[(repo_id, revision)] = sha
        self.commits[(repo_id, sha)] = dict(files)
        for data in files.values():
            self.blobs[hashlib.sha256(data).hexdigest()] = data
        return sha

    def tamper(self, repo_id: str, filename: str, data: bytes, revision: str = "main") -> str:
        """Serve ``data`` for ``filename`` under the commit ``revision`` points to, without a new commit.

        A mirror that swapped a file: same repository, revision, commit and name, other bytes.
        Returns the (unchanged) commit sha.
        """
        sha = self.commit_of(repo_id, revision)
        if sha is None or filename not in self.commits[(repo_id, sha)]:
            raise KeyError(f"{repo_id}@{revision} has no {filename} to tamper with")
        self.commits[(repo_id, sha)][filename] = data
        self.blobs[hashlib.sha256(data).hexdigest()] = data
        return sha

    def commit_of(self, repo_id: str, revision: str) -> str | None:
        if (repo_id, revision) in self.refs:
            return self.refs[(repo_id, revision)]
        if (repo_id, revision) in self.commits:
            return revision
        return None

    def repo_exists(self, repo_id: str) -> bool:
        return any(r == repo_id for r, _ in self.commits)

    # ---- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    @property
    def running(self) -> bool:
        return bool(self._servers)

    def start(self) -> HubEmulator:
        """Listen (again) on the same ports as before, or on fresh random ports the first time."""
        if self._servers:
            return self
        handler = _make_handler(self)
        hub = ThreadingHTTPServer(("127.0.0.1", self.hub_port), handler)
        cdn = ThreadingHTTPServer(("127.0.0.1", self.cdn_port), handler)
        self.hub_port, self.cdn_port = hub.server_address[1], cdn.server_address[1]
        for server in (hub, cdn):
            server.daemon_threads = True
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Close both listeners: from now on connections are refused (the machine is 'offline')."""
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> HubEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- what the client asked --------------------------------------------------------------------
    def requests(self, method: str | None = None, filename: str | None = None) -> list[Request]:
        with self._lock:
            return [
                r
                for r in self.log
                if (method is None or r.method == method) and (filename is None or r.filename == filename)
            ]

    def downloads(self, filename: str) -> int:
        """How many times the bytes of ``filename`` were sent (GET on /resolve or on the CDN)."""
        return sum(1 for r in self.requests("GET", filename) if r.status == 200 and r.body_bytes)

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.log.append(request)


def _make_handler(hub: HubEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
            pass

        def do_HEAD(self) -> None:
            self._serve(with_body=False)

        def do_GET(self) -> None:
            self._serve(with_body=True)

        # --------------------------------------------------------------------------------------
        def _serve(self, with_body: bool) -> None:
            path = urlsplit(self.path).path
            on_cdn = self.server.server_address[1] == hub.cdn_port
            if on_cdn and path.startswith("/lfs/"):
                return self._serve_lfs(path, with_body)
            if path == "/api/agent-harnesses":  # asked by huggingface_hub's user-agent helper
                body = b'{"standardEnvVars": [], "harnesses": {}}'
                return self._reply(200, {"Content-Type": "application/json"}, body, with_body, path)
            parts = path.lstrip("/").split("/")
            if on_cdn or len(parts) < 5 or parts[2] != "resolve":
                return self._reply(404, {}, b"not found", with_body, path)
            repo_id = f"{unquote(parts[0])}/{unquote(parts[1])}"
            revision = unquote(parts[3])
            filename = unquote("/".join(parts[4:]))
            meta = {"repo_id": repo_id, "revision": revision, "filename": filename}
            if not hub.repo_exists(repo_id):
                return self._reply(404, {"X-Error-Code": "RepoNotFound"}, b"", with_body, path, meta)
            commit = hub.commit_of(repo_id, revision)
            if commit is None:
                return self._reply(404, {"X-Error-Code": "RevisionNotFound"}, b"", with_body, path, meta)
            files = hub.commits[(repo_id, commit)]
            if filename not in files:
                headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit}
                return self._reply(404, headers, b"", with_body, path, meta)
            data = files[filename]
            if filename.endswith(LFS_SUFFIXES):
                sha256 = hashlib.sha256(data).hexdigest()
                headers = {
                    "X-Repo-Commit": commit,
                    "X-Linked-Etag": f'"{sha256}"',
                    "X-Linked-Size": str(len(data)),
                    "ETag": f'"{git_blob_sha1(data)}"',
                    # A different host name, like the real CDN: clients must not follow it as a Hub redirect.
                    "Location": f"http://localhost:{hub.cdn_port}/lfs/{sha256}?name={quote(filename)}",
                }
                return self._reply(302, headers, b"", with_body, path, meta)
            headers = {"X-Repo-Commit": commit, "ETag": f'"{git_blob_sha1(data)}"'}
            return self._reply(200, headers, data, with_body, path, meta)

        def _serve_lfs(self, path: str, with_body: bool) -> None:
            sha256 = path.rsplit("/", 1)[-1]
            name = unquote(urlsplit(self.path).query.partition("name=")[2]) or None
            data = hub.blobs.get(sha256)
            if data is None:
                return self._reply(404, {}, b"", with_body, path, {"filename": name})
            return self._reply(200, {"ETag": f'"{sha256}"'}, data, with_body, path, {"filename": name})

        def _reply(
            self,
            status: int,
            headers: dict[str, str],
            body: bytes,
            with_body: bool,
            path: str,
            meta: dict[str, str | None] | None = None,
        ) -> None:
            self.send_response(status)
            if "/resolve/" in path:  # an answer about a repository file: the hostile mode may rewrite it
                headers = {**headers, **hub.header_overrides}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            # No keep-alive: after stop() no open connection may keep answering for an "offline" hub.
            self.send_header("Connection", "close")
            self.close_connection = True
            sent = len(body) if with_body else 0
            # Recorded before the answer leaves: the client may act on it before this thread runs again.
            hub._record(Request(self.command, path, status, body_bytes=sent, **(meta or {})))
            self.end_headers()
            if sent:
                self.wfile.write(body)

    return Handler
