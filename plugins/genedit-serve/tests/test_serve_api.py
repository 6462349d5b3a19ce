"""The HTTP API over the toy plugin: models, jobs, results, and one-line JSON for every bad request."""

from __future__ import annotations

import io
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image
from serve_toy import bomb_png, png_bytes, wait_done


def submit(client, model="toy-up", task="upscale", options=None, image=None, name="photo.png", **fields):
    data = {"task": task, "model": model, "options": json.dumps(options or {}), **fields}
    files = {"image": (name, png_bytes() if image is None else image, "image/png")} if image != b"" else None
    return client.post("/jobs", data=data, files=files)


def test_models_lists_every_card_with_its_declared_options(client):
    body = client.get("/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert set(by_name) == {"toy-up", "toy-gen", "toy-fill", "toy-slow"}
    assert body["tasks"] == {
        "denoise": ["toy-slow"],
        "generate": ["toy-gen"],
        "inpaint": ["toy-fill"],
        "upscale": ["toy-up"],
    }
    gain, mode, _ = by_name["toy-up"]["options"]["upscale"]
    assert (gain["name"], gain["type"], gain["default"], gain["low"], gain["high"]) == (
        "gain",
        "float",
        1.0,
        0.0,
        2.0,
    )
    assert mode["choices"] == ["nearest", "flat"] and by_name["toy-up"]["scales"] == [2]
    assert by_name["toy-slow"]["options"] == {"denoise": []}
    assert not gain["image"] and by_name["toy-fill"]["options"]["inpaint"][0]["image"] is True


def test_an_upscale_job_runs_with_its_option_and_returns_the_image_with_provenance(client, toy, tmp_path):
    r = submit(client, options={"gain": 0.5})
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["state"] == "done" and job["progress"] == 1.0 and job["error"] is None
    assert [o["name"] for o in job["outputs"]] == ["photo_toy-up_x2.png"]
    assert job["provenance"]["model"] == "toy-up" and job["provenance"]["scale"] == 2

    res = client.get(job["outputs"][0]["url"])
    assert res.status_code == 200 and res.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(res.content)).convert("RGB"))
    assert image.shape == (12, 16, 3)  # 8×6 upscaled x2
    assert abs(int(image[0, 0, 0]) - 100) <= 1  # 200 × gain 0.5: the option reached the plugin
    assert json.loads(res.headers["x-genedit-provenance"])["model"] == "toy-up"
    # the output lives in the job's folder of the work folder, nowhere else
    assert (tmp_path / "work" / "jobs" / job["id"] / "out" / "photo_toy-up_x2.png").is_file()


def test_a_failed_job_is_one_line_naming_no_server_path(client, tmp_path):
    mask = png_bytes(5, 5)  # not the input's size: the toy plugin cannot apply it
    files = [("image", ("photo.png", png_bytes(), "image/png")), ("file.mask", ("m.png", mask, "image/png"))]
    job = wait_done(
        client, client.post("/jobs", data={"task": "inpaint", "model": "toy-fill"}, files=files).json()["id"]
    )
    assert job["state"] == "failed" and job["outputs"] == []
    assert (
        "\n" not in job["error"] and str(tmp_path) not in job["error"] and "in/photo.png" in job["error"]
    ), job["error"]
    r = client.get(f"/jobs/{job['id']}/result")
    assert r.status_code == 409 and r.json()["error"].startswith(f"job {job['id']} is failed: no result (")


def test_models_are_loaded_once_and_reused(client, toy):
    for _ in range(2):
        assert wait_done(client, submit(client).json()["id"])["state"] == "done"
    assert toy.loads == 1


def test_generate_takes_seeds_and_returns_one_image_each_and_a_grid(client):
    r = client.post(
        "/jobs", data={"task": "generate", "model": "toy-gen", "seeds": "0-2", "options": '{"shade": 0.2}'}
    )
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    names = [o["name"] for o in job["outputs"]]
    assert names == ["toy-gen_seed0.png", "toy-gen_seed1.png", "toy-gen_seed2.png", "toy-gen_grid.png"]
    first = np.asarray(Image.open(io.BytesIO(client.get(job["outputs"][0]["url"]).content)).convert("L"))
    assert first.shape == (8, 8) and abs(int(first.mean()) - 51) <= 1
    grid = Image.open(io.BytesIO(client.get(job["outputs"][3]["url"]).content))
    assert grid.size[0] > 16  # three 8×8 tiles with gutters


def test_an_image_option_is_an_upload_saved_in_the_job_folder(client):
    from PIL import Image

    buf = io.BytesIO()
    mask = Image.new("L", (8, 6), 0)
    mask.paste(255, (0, 0, 4, 6))  # the left half is the hole
    mask.save(buf, format="PNG")
    files = [
        ("image", ("photo.png", png_bytes(), "image/png")),
        ("file.mask", ("m.png", buf.getvalue(), "image/png")),
    ]
    r = client.post("/jobs", data={"task": "inpaint", "model": "toy-fill"}, files=files)
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["state"] == "done", job["error"]
    assert job["options"] == {"mask": "mask.png"}  # the upload's name in the job, not a server path
    out = np.asarray(Image.open(io.BytesIO(client.get(job["outputs"][0]["url"]).content)).convert("RGB"))
    assert out[:, :4].max() == 0 and out[:, 4:, 0].min() == 200  # the uploaded mask reached the plugin


BAD = [
    ({"model": "toy-upp"}, 400, "Unknown model 'toy-upp'. Did you mean: toy-up"),
    ({"options": {"gian": 1}}, 400, "unknown option --gian; did you mean --gain?"),
    ({"options": {"gain": "lots"}}, 400, "--gain lots: expected a number"),
    ({"options": {"gain": 5}}, 400, "--gain 5: expected a value from 0 to 2"),
    ({"options": {"mode": "bilinear"}}, 400, "--mode bilinear"),
    ({"options": {"gain": [1]}}, 400, "option value [1]: expected a string, number or true/false"),
    ({"task": "denoise"}, 400, "model 'toy-up' does not do 'denoise' (it does: upscale)"),
    ({"weights": "/etc/passwd"}, 400, "weights '/etc/passwd': not a variant of 'toy-up'"),
    ({"scale": "3"}, 400, "model 'toy-up' has no x3 (it has x2)"),
    ({"scale": "two"}, 422, "scale:"),
    ({"image": b"this is not an image", "name": "notes.png"}, 400, "notes.png: cannot read image"),
    (
        {"image": bomb_png(), "name": "bomb.png"},
        400,
        "bomb.png: 100000×100000 = 10,000,000,000 pixels exceeds",
    ),
    ({"image": b""}, 400, "upscale needs an input image"),
    (
        {"model": "toy-fill", "task": "inpaint", "options": {"mask": "/etc/hosts"}},
        400,
        "--mask: upload the image",
    ),
    ({"options": {"label": "../x"}}, 400, "--label ../x: a text option may not name a path on the server"),
]


@pytest.mark.parametrize(("change", "status", "message"), BAD, ids=[m[:24] for _, _, m in BAD])
def test_a_bad_request_is_one_json_line_with_the_clis_message(client, tmp_path, change, status, message):
    r = submit(client, **change)
    assert r.status_code == status, r.text
    body = r.json()
    assert list(body) == ["error"] and message in body["error"]
    assert "\n" not in body["error"] and "Traceback" not in r.text
    jobs = tmp_path / "work" / "jobs"
    assert not any(jobs.iterdir())  # refused before any job folder was kept


def test_malformed_requests_are_json_errors_too(client):
    r = client.post("/jobs", data={"model": "toy-up"})
    assert (r.status_code, r.json()) == (422, {"error": "task: Field required"})
    r = client.post("/jobs", data={"task": "upscale", "model": "toy-up", "options": "{gain: 1"})
    assert r.status_code == 400 and r.json()["error"].startswith("options: not JSON")
    r = client.get("/jobs/../../etc/passwd")
    assert r.status_code == 404 and list(r.json()) == ["error"]
    assert client.get("/jobs/" + "0" * 32).json() == {"error": "no job " + "0" * 32}


def test_an_option_upload_must_be_a_declared_image_option_and_an_image(client):
    files = [
        ("image", ("photo.png", png_bytes(), "image/png")),
        ("file.gain", ("g.png", png_bytes(), "image/png")),
    ]
    r = client.post("/jobs", data={"task": "upscale", "model": "toy-up"}, files=files)
    assert r.status_code == 400 and r.json()["error"] == (
        "file.gain: model 'toy-up' takes no image option 'gain' for upscale (valid: none)"
    )
    files = [
        ("image", ("photo.png", png_bytes(), "image/png")),
        ("file.mask", ("m.png", b"GIF89a junk", "image/png")),
    ]
    r = client.post("/jobs", data={"task": "inpaint", "model": "toy-fill"}, files=files)
    assert r.status_code == 400 and r.json()["error"].startswith("m.png: cannot read image")


def test_a_body_over_the_upload_limit_is_refused_before_parsing(make_client):
    client = make_client(max_upload_bytes=2000)
    r = submit(client, image=png_bytes(200, 200, 7) + b"\0" * 4000)
    assert r.status_code == 413 and "upload limit of 2,000 bytes" in r.json()["error"]


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(make_client):
    client = make_client(max_upload_bytes=4096)

    def body():
        for _ in range(64):
            yield b"x" * 1024

    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    r = client.post("/jobs", content=body(), headers=headers)  # no Content-Length: counted as it comes
    assert r.status_code == 413 and r.json() == {
        "error": "request body over the upload limit of 4,096 bytes (the server's --max-upload-mb)"
    }


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_failure_is_one_line_and_its_traceback_is_logged_only_with_debug(
    make_client, monkeypatch, caplog, debug
):
    import genedit_serve.server as server

    def broken():
        raise RuntimeError("the registry fell over\nsecond line")

    monkeypatch.setattr(server, "catalog", broken)
    client = make_client(debug=debug)
    with caplog.at_level("ERROR", logger="genedit.serve"):
        r = client.get("/models")
    assert r.status_code == 500 and r.json() == {
        "error": "unexpected RuntimeError: the registry fell over (the server's --debug logs the traceback)"
    }
    logged = "\n".join(rec.getMessage() + (rec.exc_text or "") for rec in caplog.records)
    assert ("Traceback" in caplog.text) is debug and ("fell over" in caplog.text) is debug, logged


def test_the_pixel_limit_is_the_servers_setting(make_client):
    client = make_client(max_pixels=40)
    r = submit(client, name="big.png")
    assert r.status_code == 400 and "big.png: 8×6 = 48 pixels exceeds the limit of 40" in r.json()["error"]


def test_queue_is_bounded_a_queued_job_can_be_cancelled_a_running_one_cannot(make_client, toy):
    client = make_client(queue_size=1)
    running = submit(client, model="toy-slow", task="denoise").json()["id"]
    assert toy.entered.wait(10)
    queued = submit(client, model="toy-slow", task="denoise").json()["id"]
    full = submit(client, model="toy-slow", task="denoise")
    assert full.status_code == 503 and "queue is full" in full.json()["error"]
    assert client.delete(f"/jobs/{running}").status_code == 409
    assert client.delete(f"/jobs/{queued}").json() == {"id": queued, "deleted": True}
    assert client.get(f"/jobs/{queued}").status_code == 404
    toy.release.set()
    assert wait_done(client, running)["state"] == "done"
    assert client.delete(f"/jobs/{running}").status_code == 200
    assert client.get(f"/jobs/{running}/result").status_code == 404


def test_a_result_before_the_job_is_done_is_409_and_wait_answers_when_it_is(make_client, toy):
    client = make_client()
    job = submit(client, model="toy-slow", task="denoise").json()["id"]
    assert toy.entered.wait(10)
    r = client.get(f"/jobs/{job}/result")
    assert r.status_code == 409 and r.json()["error"] == f"job {job} is running: no result"
    assert client.get(f"/jobs/{job}?wait=0.2").json()["state"] == "running"  # time up: still running
    threading.Timer(0.3, toy.release.set).start()
    assert client.get(f"/jobs/{job}?wait=20").json()["state"] == "done"
    assert client.get(f"/jobs/{job}?wait=61").status_code == 422


def test_a_restart_keeps_finished_jobs_and_fails_interrupted_ones(make_client, tmp_path):
    from genedit_serve.jobs import JobSpec, JobStore

    first = make_client()
    done = wait_done(first, submit(first).json()["id"])
    store = JobStore(tmp_path / "work")  # a job the dead process was running
    store.new(JobSpec(task="upscale", model="toy-up"), "f" * 32)
    store.update("f" * 32, state="running")

    again = make_client()
    assert again.get(f"/jobs/{done['id']}").json()["state"] == "done"
    assert again.get(done["outputs"][0]["url"]).status_code == 200
    lost = again.get("/jobs/" + "f" * 32).json()
    assert lost["state"] == "failed" and lost["error"].startswith("interrupted")


def test_with_a_token_every_api_call_needs_it_but_the_page_does_not(make_client):
    client = make_client(token="s3cret")
    assert client.get("/models").status_code == 401
    assert (
        client.get("/models", headers={"Authorization": "Bearer nope"})
        .json()["error"]
        .startswith("missing or wrong")
    )
    assert client.get("/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.get("/").status_code == 200


def test_cors_is_off_unless_an_origin_is_given(make_client):
    headers = {"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in make_client().get("/models", headers=headers).headers
    allowed = make_client(cors=("http://elsewhere.example",)).get("/models", headers=headers)
    assert allowed.headers["access-control-allow-origin"] == "http://elsewhere.example"


def test_the_openapi_schema_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/models", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/result"} <= set(paths)
    assert "delete" in paths["/jobs/{job_id}"]


@pytest.mark.parametrize(("devices", "together"), [(("cpu", "cuda:0"), 2), (("cpu", "cpu"), 1)])
def test_one_worker_per_device_takes_jobs_from_the_one_queue(tmp_path, devices, together):
    """Two devices: two jobs run at once, each on its own device; one device named twice: one at a time."""
    from genedit_serve.jobs import JobSpec, JobStore, Runner

    running: dict[str, str] = {}
    most = []
    both = threading.Barrier(3, timeout=10) if together == 2 else None
    lock, release = threading.Lock(), threading.Event()

    def run(store, job_id, spec, cache):
        with lock:
            running[job_id] = cache.device
            most.append(len(running))
        if both is not None:
            both.wait()
        release.wait(10)
        with lock:
            del running[job_id]

    store = JobStore(tmp_path)
    runner = Runner(store, devices=devices, run=run)
    ids = [f"{i:032x}" for i in range(2)]
    for job_id in ids:
        runner.submit(job_id, JobSpec(task="upscale", model="toy-up"))
    if both is not None:
        both.wait()  # both jobs are running at the same time
        assert sorted(running.values()) == ["cpu", "cuda:0"]
    release.set()
    end = time.monotonic() + 10
    while time.monotonic() < end and any(store.get(i)["state"] != "done" for i in ids):
        time.sleep(0.02)
    runner.stop()
    assert max(most) == together and [store.get(i)["state"] for i in ids] == ["done", "done"]
    store.close()
