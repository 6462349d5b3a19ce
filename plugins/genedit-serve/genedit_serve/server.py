"""The HTTP API and the page: ``create_app(Settings(...))`` is what ``genedit serve`` runs.

Why FastAPI: typed form fields, multipart uploads and an OpenAPI schema (``/openapi.json``,
``/docs``) with no code of ours, under uvicorn; Starlette underneath gives the small ASGI wrapper
that bounds a request's body before anything parses it.

Promises (tested in tests/test_serve_api.py):

* Every error is 4xx/5xx with ``{"error": "one line"}``: the line ``genedit run`` prints for the same
  mistake (an unknown model, an undeclared or mistyped option, an image that is not one); never a
  traceback (``--debug`` logs it on the server's side).
* A request is checked completely before it is queued: model, task, options against the card's
  declared options, scale, weights variant, and every upload through the core's safe reader
  (its pixel limit applies before decoding). Bodies above ``max_upload_bytes`` are refused
  before they are parsed.
* Uploads and outputs live only in ``<workdir>/jobs/<id>/``; no request field names a path.
* With a token, every ``/jobs`` and ``/models`` call needs ``Authorization: Bearer TOKEN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile as FormFile
from starlette.exceptions import HTTPException

from .catalog import MAX_SEEDS, NO_INPUT_TASKS, catalog, check_request
from .jobs import FINISHED, JobSpec, JobStore, QueueFull, Runner, describe, new_job_id

log = logging.getLogger("genedit.serve")
STATIC = Path(__file__).parent / "static"
MAX_WAIT_S = 60.0
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
_SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")
_MEDIA = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
_MEDIA.update({".bmp": "image/bmp", ".tif": "image/tiff", ".tiff": "image/tiff"})


@dataclass
class Settings:
    """What ``genedit serve`` was started with."""

    workdir: Path
    devices: tuple[str, ...] = ("auto",)
    token: str | None = None
    cors: tuple[str, ...] = ()
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int | None = None  # None: the CLI's limit (GENEDIT_MAX_PIXELS or the default)
    max_files: int = 16
    queue_size: int = 16
    cache_size: int = 2
    debug: bool = False


class ApiError(Exception):
    """A request the API refuses: HTTP ``status`` with a one-line ``{"error": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Guard:
    """The outermost ASGI layer: bounds request bodies and keeps tracebacks in the log.

    A body longer than ``limit`` bytes is refused (413) before anything parses it: at once when
    Content-Length says so, else as soon as the count passes it. An exception the app did not
    handle has already been answered (500, one line, by the handler :func:`_errors` installs);
    here it stops, logged with its traceback only under ``debug``.
    """

    def __init__(self, app: Any, limit: int, debug: bool) -> None:
        self.app, self.limit, self.debug = app, limit, debug

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_big = f"request body over the upload limit of {self.limit:,} bytes (the server's --max-upload-mb)"
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _send_json(send, 413, too_big)
        state = {"seen": 0, "over": False, "answered": False}

        async def counted() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > self.limit:
                    state["over"] = True
                    raise _TooBig(too_big)
            return message

        async def guarded_send(message: dict) -> None:
            if state["over"]:  # whatever the app made of the cut-off body, the answer is 413
                if message["type"] == "http.response.start" and not state["answered"]:
                    state["answered"] = True
                    await _send_json(send, 413, too_big)
                return
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _TooBig:
            if not state["answered"]:
                state["answered"] = True
                await _send_json(send, 413, too_big)
        except Exception:
            if self.debug:
                log.exception("%s %s failed", scope.get("method"), scope.get("path"))


class _TooBig(Exception):
    pass


async def _send_json(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, runner: Runner | None = None) -> Any:
    """The ASGI app: API, page and static files, with its job store and worker started."""
    settings.workdir.mkdir(parents=True, exist_ok=True)
    store = runner.store if runner is not None else JobStore(settings.workdir)
    interrupted = store.mark_interrupted()
    if interrupted:
        log.warning("%d job(s) interrupted by the last shutdown are marked failed", interrupted)
    runner = runner or Runner(
        store,
        devices=settings.devices,
        queue_size=settings.queue_size,
        cache_size=settings.cache_size,
        debug=settings.debug,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        runner.stop()  # the job running finishes; queued ones are marked failed at the next start

    app = FastAPI(
        lifespan=lifespan,
        title="genedit serve",
        summary="Every installed genedit model over HTTP: list models, submit jobs, fetch results.",
        version=__import__("genedit_serve").__version__,
    )
    app.state.runner, app.state.settings = runner, settings
    _errors(app, settings)

    def authorised(request: Request) -> None:
        if settings.token is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {settings.token}".encode()):
            raise ApiError(401, "missing or wrong bearer token (Authorization: Bearer TOKEN)")

    auth = [Depends(authorised)]

    @app.get("/models", dependencies=auth)
    def models() -> dict[str, Any]:
        """Every installed model: tasks, scales, weight variants and each task's declared options."""
        return catalog()

    @app.post("/jobs", status_code=202, dependencies=auth)
    async def submit(
        request: Request,
        task: Annotated[str, Form(description="upscale, denoise, inpaint, generate, ...")],
        model: Annotated[str, Form(description="a model name or alias from GET /models")],
        options: Annotated[str, Form(description="the model's options for the task, a JSON object")] = "{}",
        scale: Annotated[int | None, Form()] = None,
        weights: Annotated[str | None, Form(description="one of the model's weight variants")] = None,
        seeds: Annotated[str | None, Form(description="generate: 0-3, 0,5,9 (default 0)")] = None,
        image: Annotated[list[UploadFile], File(description="the input image(s)")] = [],  # noqa: B006
    ) -> dict[str, Any]:
        """Check the request, store the uploads, queue the job; returns its id (202).

        An option that takes an image (``"image": true`` in GET /models, such as an inpainting
        mask) is uploaded as the form field ``file.NAME``.
        """
        parsed = _options(options)
        card, params = check_request(task, model, parsed, scale, weights or None)
        option_files = await _option_uploads(request, card, task)
        spec = JobSpec(task=task, model=card.name, options=params, scale=scale, weights=weights or None)
        if task in NO_INPUT_TASKS:
            if image:
                raise ApiError(400, f"{task} takes no input image; give seeds instead")
            from genedit_core.sdk import parse_index_ranges

            spec.seeds = parse_index_ranges(seeds or "0", "seeds", max_count=MAX_SEEDS)
        elif seeds:
            raise ApiError(400, f"seeds: only generate takes seeds, not {task}")
        elif not image:
            raise ApiError(400, f"{task} needs an input image: upload one as the 'image' field")
        elif len(image) > settings.max_files:
            raise ApiError(400, f"{len(image)} images: at most {settings.max_files} per job")
        elif len(image) > 1 and task not in card.group_tasks:
            raise ApiError(400, f"{task} takes one image per job ({card.name} does not group inputs)")
        if runner.full():  # before the uploads are copied and checked
            raise ApiError(503, f"the queue is full ({settings.queue_size} jobs); retry later")
        job_id = new_job_id()
        folder = store.folder(job_id)
        try:
            spec.inputs = [await _save_upload(f, folder / "in", i, settings) for i, f in enumerate(image)]
            for name, upload in option_files.items():
                saved = await _save_upload(upload, folder / "in" / "options", 0, settings, stem=name)
                spec.options[name] = str(folder / "in" / "options" / saved)
                spec.uploads.append(name)
            runner.submit(job_id, spec)
        except QueueFull:
            shutil.rmtree(folder, ignore_errors=True)
            raise ApiError(503, f"the queue is full ({settings.queue_size} jobs); retry later") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"id": job_id, "state": "queued", "url": f"/jobs/{job_id}"}

    @app.get("/jobs/{job_id}", dependencies=auth)
    async def status(job_id: str, wait: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0) -> dict[str, Any]:
        """State (queued, running, done, failed, cancelled), progress 0-1, error, outputs, provenance.

        ``?wait=SECONDS`` (up to 60) answers once the job is finished or the time is up, so a
        client needs no polling loop. Waiting holds no thread: many clients may wait at once.
        """
        job = _job(store, job_id)
        deadline = time.monotonic() + wait
        while job["state"] not in FINISHED and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            job = _job(store, job_id)
        return _view(job)

    @app.get("/jobs/{job_id}/result", dependencies=auth)
    def result(job_id: str, index: int = 0) -> FileResponse:
        """Output ``index`` of a finished job, with its provenance in ``X-Genedit-Provenance``."""
        job = _job(store, job_id)
        if job["state"] != "done":
            raise ApiError(409, f"job {job_id} is {job['state']}: no result" + _why(job))
        if not 0 <= index < len(job["outputs"]):
            raise ApiError(404, f"job {job_id} has {len(job['outputs'])} output(s); no index {index}")
        path = store.folder(job_id) / "out" / job["outputs"][index]
        if not path.is_file():
            raise ApiError(410, f"job {job_id}: output {job['outputs'][index]} is gone from the work folder")
        headers = {"X-Genedit-Provenance": json.dumps(job["provenance"], sort_keys=True, ensure_ascii=True)}
        return FileResponse(
            path, media_type=_MEDIA.get(path.suffix.lower()), headers=headers, filename=path.name
        )

    @app.delete("/jobs/{job_id}", dependencies=auth)
    def delete(job_id: str) -> dict[str, Any]:
        """Cancel a queued job, or delete a finished one with its files; a running job is 409."""
        job = _job(store, job_id)
        if job["state"] == "running" or (job["state"] == "queued" and not runner.cancel(job_id)):
            raise ApiError(409, f"job {job_id} is running; delete it once it is finished")
        store.delete(job_id)
        return {"id": job_id, "deleted": True}

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    if settings.cors:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization"],
            expose_headers=["X-Genedit-Provenance"],
        )
    return _Guard(app, settings.max_upload_bytes, settings.debug)


def _options(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError as exc:
        raise ApiError(400, f"options: not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise ApiError(400, 'options: expected a JSON object such as {"sigma": 25}')
    return value


def _job(store: JobStore, job_id: str) -> dict[str, Any]:
    job = store.get(job_id) if _JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, f"no job {job_id[:64]}")
    return job


def _why(job: dict[str, Any]) -> str:
    return f" ({job['error']})" if job.get("error") else ""


def _view(job: dict[str, Any]) -> dict[str, Any]:
    base = f"/jobs/{job['id']}"
    return {
        "id": job["id"],
        "state": job["state"],
        "finished": job["state"] in FINISHED,
        "task": job["task"],
        "model": job["model"],
        "progress": round(float(job["progress"]), 4),
        "error": job["error"],
        # uploaded image options are shown by file name: a reply names no path on the server
        "options": {
            k: Path(v).name if k in job["request"].get("uploads", []) else v
            for k, v in job["request"].get("options", {}).items()
        },
        "outputs": [
            {"name": name, "url": f"{base}/result?index={i}"} for i, name in enumerate(job["outputs"])
        ],
        "provenance": job["provenance"],
        "created": job["created"],
        "started": job["started"],
        "finished_at": job["finished"],
    }


async def _option_uploads(request: Request, card: Any, task: str) -> dict[str, UploadFile]:
    """The ``file.NAME`` uploads of the form, each for an image option the card declares."""
    from .catalog import image_options

    declared = image_options(card, task)
    found: dict[str, UploadFile] = {}
    for key, value in (await request.form()).multi_items():
        if not key.startswith("file."):
            continue
        name = key.removeprefix("file.")
        if name not in declared:
            valid = ", ".join(f"file.{n}" for n in declared) or "none"
            raise ApiError(
                400, f"{key}: model '{card.name}' takes no image option '{name}' for {task} (valid: {valid})"
            )
        if not isinstance(value, FormFile):
            raise ApiError(400, f"{key}: expected an uploaded image, not text")
        found[name] = value
    return found


async def _save_upload(
    upload: UploadFile, folder: Path, index: int, settings: Settings, stem: str | None = None
) -> str:
    """Copy an upload into the job's in/ folder under a name of ours, then check it decodes.

    The client's file name only gives the output's stem (letters, digits, - and _) and suffix;
    the core's reader checks the pixel count before decoding, so a decompression bomb costs nothing.
    """
    from genedit_core.sdk import ImageError, read_image

    shown = (upload.filename or f"image {index + 1}").replace("\n", " ")[:200]
    name = Path(upload.filename or "image").name
    suffix = Path(name).suffix.lower()
    if suffix not in _MEDIA:
        suffix = ".png"
    stem = stem or _SAFE_STEM.sub("_", Path(name).stem).strip("_")[:40] or "image"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}{suffix}" if index == 0 else folder / f"{stem}_{index}{suffix}"
    written = 0
    with open(path, "wb") as f:
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > settings.max_upload_bytes:
                raise ApiError(413, f"{shown}: over the upload limit of {settings.max_upload_bytes:,} bytes")
            f.write(chunk)
    try:  # decoding is CPU work: off the event loop, so other requests are answered meanwhile
        await run_in_threadpool(read_image, path, max_pixels=settings.max_pixels)
    except ImageError as exc:
        raise ApiError(400, str(exc).replace(str(path), shown)) from None
    return path.name


def _errors(app: FastAPI, settings: Settings) -> None:
    """Every failure as ``{"error": one line}``; a traceback only in the log, only with --debug."""
    from genedit_core.sdk import GeneditError, UsageError

    def reply(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return reply(exc.status, str(exc))

    @app.exception_handler(UsageError)
    async def usage_error(request: Request, exc: UsageError) -> JSONResponse:
        return reply(400, str(exc))

    @app.exception_handler(GeneditError)
    async def genedit_error(request: Request, exc: GeneditError) -> JSONResponse:
        return reply(400, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return reply(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where}: {e.get('msg', 'invalid')}" if where else str(e.get("msg")))
        return reply(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return reply(500, describe(exc))  # the traceback goes to the log under --debug (_Guard)
