"""``genedit serve``: the command this plugin adds (through the ``register_commands`` hook).

Imported by ``genedit --help``: FastAPI, uvicorn and torch load inside the command body.
Security defaults: it binds 127.0.0.1; any other ``--host`` needs ``--token`` (checked as a bearer
token on every API call); CORS is off unless ``--cors ORIGIN``; uploads are bounded in bytes and
in pixels (the CLI's ``--max-pixels`` limit) before they are decoded.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from genedit_core.sdk import UsageError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Annotated[
            str, typer.Option(help="Address to bind; anything but loopback needs --token.")
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port (0: a free one, printed at start).")] = 8000,
        workdir: Annotated[
            Path | None,
            typer.Option(
                help="Folder for job records, uploads and results (default: a new temporary folder)."
            ),
        ] = None,
        token: Annotated[
            str | None, typer.Option(help="Bearer token every API call must carry; or GENEDIT_SERVE_TOKEN.")
        ] = None,
        cors: Annotated[
            list[str] | None, typer.Option(help="Allow this browser origin (repeatable); off by default.")
        ] = None,
        device: Annotated[
            list[str] | None,
            typer.Option(
                help="auto, cpu, cuda, cuda:N or mps; repeat it for one worker per device (default: auto)."
            ),
        ] = None,
        max_upload_mb: Annotated[float, typer.Option(help="Largest request body, in MB.")] = 50.0,
        max_pixels: Annotated[
            int | None, typer.Option(help="Largest input in pixels (default: the CLI's, GENEDIT_MAX_PIXELS).")
        ] = None,
        queue: Annotated[int, typer.Option(help="Jobs that may wait; more are refused with 503.")] = 16,
        cache: Annotated[int, typer.Option(help="Models kept loaded.")] = 2,
        debug: Annotated[bool, typer.Option("--debug", help="Log the traceback of every failure.")] = False,
    ) -> None:
        """Serve every installed model over HTTP, with a web page: [bold]genedit serve --port 8000[/bold].

        The page is at http://HOST:PORT/, the API schema at /docs and /openapi.json.
        """
        token = token or os.environ.get("GENEDIT_SERVE_TOKEN") or None
        if host not in LOOPBACK and not token:
            raise UsageError(f"--host {host}: serving beyond this machine needs --token (a bearer token)")
        if not 1 <= queue <= 10_000:
            raise UsageError(f"--queue {queue}: expected 1 to 10000 jobs")
        if not 1 <= cache <= 64:
            raise UsageError(f"--cache {cache}: expected 1 to 64 models")
        if max_upload_mb <= 0:
            raise UsageError(f"--max-upload-mb {max_upload_mb:g}: expected a positive size")
        if max_pixels is not None and max_pixels < 1:
            raise UsageError(f"--max-pixels {max_pixels}: expected a positive number of pixels")
        if not 0 <= port <= 65535:
            raise UsageError(f"--port {port}: expected 0 to 65535")
        from genedit_cli.sdk import err

        sock = _bind(host, port)  # bound here: a port in use is one line, and --port 0's port is known
        folder = workdir if workdir is not None else Path(tempfile.mkdtemp(prefix="genedit-serve-"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            sock.close()
            raise UsageError(f"--workdir {folder}: cannot create it ({exc.strerror or exc})") from None
        import uvicorn

        from .server import Settings, create_app

        debug = debug or os.environ.get("GENEDIT_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
        logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
        settings = Settings(
            workdir=folder,
            devices=tuple(device or ["auto"]),
            token=token,
            cors=tuple(cors or ()),
            max_upload_bytes=int(max_upload_mb * 1024 * 1024),
            max_pixels=max_pixels,
            queue_size=queue,
            cache_size=cache,
            debug=debug,
        )
        asgi = create_app(settings)
        shown = f"[{host}]" if ":" in host else host
        err.print(f"genedit serve: work folder {folder}", markup=False, highlight=False)
        err.print(
            f"genedit serve: listening on http://{shown}:{sock.getsockname()[1]}/",
            markup=False,
            highlight=False,
        )
        config = uvicorn.Config(asgi, log_level="info" if debug else "warning")
        uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a name that does not resolve or a port in use is a UsageError."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve it ({exc.strerror})") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc})"
        ) from None
    sock.set_inheritable(True)
    return sock
