"""The commands end to end, in-process: optimize, export, save, push (fake HfApi + Hub emulator), bench."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def hub(monkeypatch, tmp_path):
    sys.path.insert(0, str(REPO / "tests"))
    try:
        from hub_emulator import HubEmulator
    except ImportError:
        pytest.skip("tests/hub_emulator.py is not available")
    finally:
        sys.path.remove(str(REPO / "tests"))
    emulator = HubEmulator().start()
    monkeypatch.setenv("HF_ENDPOINT", emulator.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_HUB_DISABLE_XET", "1")
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "genedit-cache"))  # the Hub trust record
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    try:
        yield emulator
    finally:
        emulator.stop()


class FakeHfApi:
    """Records the huggingface_hub calls; ``upload_folder`` publishes into the emulator when given one."""

    def __init__(self, hub=None):
        self.calls: list[tuple[str, dict]] = []
        self.hub = hub

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))
        return f"https://hub.example/{kw['repo_id']}"

    def create_branch(self, **kw):
        self.calls.append(("create_branch", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        folder = Path(kw["folder_path"])
        if self.hub is not None:
            files = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
            self.hub.add_commit(kw["repo_id"], files, kw.get("revision") or "main")

        class Info:
            oid = "0" * 40

        return Info()


def _tiny_weights(tmp_path: Path) -> Path:
    from compress_tiny import TinyEDSR
    from safetensors.torch import save_file

    torch.manual_seed(3)
    net = TinyEDSR(nf=6, nb=1)
    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    return path


def test_save_writes_hub_folder_that_loads_back(cli, tmp_path):
    from genedit_core.api import load

    weights = _tiny_weights(tmp_path)
    metrics = tmp_path / "eval.json"
    metrics.write_text(json.dumps({"summary": {"psnr": 30.5, "ssim": 0.9}, "rows": []}))
    code, out, err = cli(
        "save",
        "tiny-edsr",
        "--weights",
        str(weights),
        "--out",
        str(tmp_path / "folder"),
        "--metrics",
        str(metrics),
    )
    assert code == 0, err
    folder = tmp_path / "folder"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["num_feat"] == 6 and config["num_block"] == 1 and config["genedit"]["scale"] == 2
    card = (folder / "README.md").read_text()
    header = card.split("---")[1]
    import yaml

    meta = yaml.safe_load(header)
    assert meta["library_name"] == "genedit" and meta["license"] == "apache-2.0"
    assert "upscale" in meta["tags"] and meta["pipeline_tag"] == "image-to-image"
    assert {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]} == {
        "psnr": 30.5,
        "ssim": 0.9,
    }
    a = load("tiny-edsr", weights=str(weights), device="cpu", dtype="fp32")
    b = load("tiny-edsr", weights=str(folder), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 9, 11)
    with torch.no_grad():
        assert torch.equal(a.forward(x), b.forward(x))


def test_push_calls_and_hf_round_trip(cli, hub, tmp_path, monkeypatch):
    import genedit_compress.publish as publish

    from genedit_core.api import load

    weights = _tiny_weights(tmp_path)
    assert cli("save", "tiny-edsr", "--weights", str(weights), "--out", str(tmp_path / "f"))[0] == 0
    api = FakeHfApi(hub)
    monkeypatch.setattr(publish, "hf_api", lambda *a, **k: api)
    code, out, err = cli("push", str(tmp_path / "f"), "--repo", "me/tiny", "--private", "--revision", "v1")
    assert code == 0, err
    names = [c[0] for c in api.calls]
    assert names == ["create_repo", "create_branch", "upload_folder"]
    assert api.calls[0][1] == {"repo_id": "me/tiny", "repo_type": "model", "private": True, "exist_ok": True}
    assert api.calls[1][1]["branch"] == "v1"
    upload = api.calls[2][1]
    assert (
        upload["repo_id"] == "me/tiny"
        and upload["revision"] == "v1"
        and upload["folder_path"] == str(tmp_path / "f")
    )
    assert "hf://me/tiny" in out
    remote = load("tiny-edsr", weights="hf://me/tiny@v1", device="cpu", dtype="fp32")
    local = load("tiny-edsr", weights=str(weights), device="cpu", dtype="fp32")
    assert remote.weights.origin == "hf://me/tiny/model.safetensors@v1"
    x = torch.rand(1, 3, 7, 8)
    with torch.no_grad():
        assert torch.equal(remote.forward(x), local.forward(x))


def test_push_refuses_non_genedit_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    code, out, err = cli("push", str(tmp_path / "empty"), "--repo", "me/x")
    assert code == 1 and "genedit save" in err


def test_export_cli_prints_diff(cli, tmp_path):
    code, out, err = cli("export", "tiny-edsr", "--format", "torch-export", "--out", str(tmp_path / "m.pt2"))
    assert code == 0, err
    assert "verified on input (1, 3, 37, 53)" in out and "max abs diff" in out
    assert (tmp_path / "m.pt2").is_file()


def test_export_unknown_format(cli, tmp_path):
    code, out, err = cli("export", "tiny-edsr", "--format", "tflite", "--out", str(tmp_path))
    assert code == 2 and "onnx" in err and "torch-export" in err


def test_optimize_cli_with_method_options(cli, tmp_path, images):
    code, out, err = cli(
        "optimize",
        "tiny-edsr",
        "--method",
        "prune-unstructured",
        "--out",
        str(tmp_path / "o"),
        "--eval",
        images,
        "--amount",
        "0.3",
        "--scope",
        "layer",
        "--bench-size",
        "24",
        "--repeats",
        "1",
        "--eval-crop",
        "24",
        "--eval-count",
        "1",
    )
    assert code == 0, err
    assert "stored size" in out and "PSNR-Y" in out
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["details"]["scope"] == "layer" and report["details"]["target_sparsity"] == 0.3


def test_optimize_bad_option_is_usage_error(cli, tmp_path):
    code, out, err = cli(
        "optimize", "tiny-edsr", "--method", "prune-unstructured", "--out", str(tmp_path), "--amount", "lots"
    )
    assert code == 2 and "--amount lots" in err


def test_sparsity_explains_missing_speedup_on_cpu(cli, tmp_path):
    code, out, err = cli(
        "optimize",
        "tiny-edsr",
        "--method",
        "sparsity",
        "--out",
        str(tmp_path),
        "--repeats",
        "1",
        "--bench-size",
        "16",
        "--eval",
        "none",
    )
    assert code == 2 and "no speed-up" in err and "compute capability 8.0" in err


def test_bench_reports_ratios(cli):
    code, out, err = cli(
        "bench", "tiny-edsr", "--size", "24", "--repeats", "1", "--method", "prune-unstructured", "--json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [r["variant"] for r in rows] == ["fp32 eager", "prune-unstructured"]
    assert rows[0]["ratio"] == 1.0 and rows[1]["ratio"] > 0
    assert all(r["median_ms"] > 0 and r["images_per_s"] > 0 for r in rows)


@pytest.mark.parametrize("offline", [False, True], ids=["refused", "HF_HUB_OFFLINE"])
def test_push_without_a_hub_is_one_line(cli, tmp_path, monkeypatch, offline):
    """A Hub that refuses connections, or offline mode, gives one line and exit 1, not the client's traceback."""
    import socket

    weights = _tiny_weights(tmp_path)
    assert cli("save", "tiny-edsr", "--weights", str(weights), "--out", str(tmp_path / "f"))[0] == 0
    with socket.socket() as s:  # a port nobody listens on: connections are refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    code, out, err = cli("push", str(tmp_path / "f"), "--repo", "me/tiny")
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, err
    assert "Traceback" not in err and f"push {tmp_path / 'f'} to hf://me/tiny" in lines[0]
    assert ("HF_HUB_OFFLINE" in lines[0]) if offline else ("not reachable" in lines[0])
