"""The openvino backend on a tiny model: matches torch fp32, caches across processes, falls back in one line.

Every test points ``GENEDIT_CACHE_DIR`` at its own folder, so the disk cache starts empty and
``runtime.COUNTS`` (conversions, checks, compiles, cache reads in this process) says exactly what
each load did; nothing here measures time.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from genedit_openvino import runtime
from genedit_openvino.cache import blob_path
from openvino_tiny import TinyPlugin, write_weights

from genedit_core.sdk import load, run_with_oom_retry
from genedit_core.testing import plugins_installed

HERE = Path(__file__).resolve().parent
X = torch.rand(1, 3, 23, 31, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "cache"))
    runtime.COUNTS.clear()
    with plugins_installed(tinyov=TinyPlugin()):
        yield write_weights(tmp_path / "tiny.safetensors")


def test_entry_point_is_light_to_import():
    code = (
        "import sys\nfrom importlib import metadata\n"
        "(ep,) = [e for e in metadata.entry_points(group='genedit.backends') if e.name == 'openvino']\n"
        "backend = ep.load()\nassert callable(backend.convert)\n"
        "heavy = [m for m in ('torch', 'openvino', 'numpy') if m in sys.modules]\nassert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_output_matches_torch_fp32_whole_and_tiled_and_bench_times_it(tiny):
    ref = load("tinyov", weights=tiny, device="cpu", dtype="fp32")
    model = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    assert (ref.backend, model.backend) == ("torch", "openvino")
    assert model.hyperparameters["openvino"]["precision"] == "f32"
    want = run_with_oom_retry(ref, X, None)
    got = run_with_oom_retry(model, X, None)
    assert got.shape == want.shape == (1, 3, 46, 62)
    assert float((got - want).abs().max()) < 1e-5
    # tiles of several shapes (32+4 context inside, fewer at the edges) go through the one program
    big = torch.rand(1, 3, 40, 70, generator=torch.Generator().manual_seed(2))
    tiled = run_with_oom_retry(model, big, 32)
    assert float((tiled - run_with_oom_retry(ref, big, None)).abs().max()) < 1e-5
    assert runtime.COUNTS["convert"] == 1 and runtime.COUNTS["check"] == 1
    # `genedit bench --backend openvino` (genedit-compress, installed with genedit) times it from the cache
    bench = pytest.importorskip("genedit_compress.bench")
    rows = bench.bench_model("tinyov", weights=tiny, size="24", repeats=1, backends=["openvino"])
    assert [r["variant"] for r in rows] == ["fp32 eager", "openvino fp32"]
    assert all(r["median_ms"] > 0 and r["ratio"] > 0 for r in rows)
    assert runtime.COUNTS["convert"] == 1 and runtime.COUNTS["blob_cache_hit"] == 1


def test_a_second_process_reuses_the_cache_and_a_damaged_entry_is_redone(tiny, tmp_path):
    first = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    assert (runtime.COUNTS["convert"], runtime.COUNTS["compile"]) == (1, 1)
    entry = Path(first.hyperparameters["openvino"]["cache"])
    assert {p.name for p in entry.iterdir()} == {
        "key.json",
        "check.json",
        "model.xml",
        "model.bin",
        blob_path(entry, "f32").name,
    }
    assert re.fullmatch(r"compiled-f32-[0-9a-f]{10}\.blob", blob_path(entry, "f32").name)
    key = json.loads((entry / "key.json").read_text())
    assert key["card"] == "tinyov:tinyov" and key["scale"] == 2 and key["dtype"] == "fp32"
    assert key["input"] == "?x3x?x?" and len(key["weights_sha256"]) == 64
    torch.save(X, tmp_path / "x.pt")
    code = f"""
import json, sys, torch
sys.path.insert(0, {str(HERE)!r})
from openvino_tiny import TinyPlugin
from genedit_core.sdk import load
from genedit_core.testing import plugins_installed
from genedit_openvino import runtime
from genedit_openvino.cache import blob_path
with plugins_installed(tinyov=TinyPlugin()):
    m = load("tinyov", weights={tiny!r}, device="cpu", dtype="fp32", backend="openvino")
    torch.save(m(torch.load({str(tmp_path / "x.pt")!r})), {str(tmp_path / "y.pt")!r})
print(json.dumps(dict(runtime.COUNTS)))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert counts == {"ir_cache_hit": 1, "blob_cache_hit": 1}  # no convert, check or compile
    assert torch.equal(torch.load(tmp_path / "y.pt"), first(X))
    # a damaged entry (files truncated by hand) is dropped and converted once more
    blob_path(entry, "f32").write_bytes(b"not a blob")
    (entry / "model.xml").write_text("<net")
    again = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    assert again.backend == "openvino" and runtime.COUNTS["convert"] == 2
    assert torch.equal(again(X), first(X)) and (entry / "model.xml").read_text().startswith("<?xml")


def test_a_process_under_an_isa_cap_compiles_its_own_program_beside_the_same_ir(tiny, monkeypatch):
    """Compiling picks kernels for the ISA it finds; under ONEDNN_MAX_CPU_ISA (or on another CPU
    sharing the cache) the blob compiled for the full ISA must not be imported."""
    first = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    entry = Path(first.hyperparameters["openvino"]["cache"])
    full = blob_path(entry, "f32")
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    capped_blob = blob_path(entry, "f32")
    assert capped_blob != full
    capped = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    assert Path(capped.hyperparameters["openvino"]["cache"]) == entry  # one IR for both
    assert (runtime.COUNTS["convert"], runtime.COUNTS["ir_cache_hit"]) == (1, 1)
    assert runtime.COUNTS["compile"] == 2 and "blob_cache_hit" not in runtime.COUNTS
    assert full.is_file() and capped_blob.is_file()
    assert float((capped(X) - first(X)).abs().max()) < 1e-5
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    assert runtime.COUNTS["compile"] == 2 and runtime.COUNTS["blob_cache_hit"] == 1


def test_the_key_covers_weights_dtype_and_card(tiny, tmp_path):
    other = write_weights(tmp_path / "other.safetensors", seed=1)
    keys = {
        runtime.cache_key(runtime.key_fields(load(name, weights=w, device="cpu", dtype=dt), "ov"))
        for name, w, dt in [
            ("tinyov", tiny, "fp32"),
            ("tinyov", other, "fp32"),
            ("tinyfixed", tiny, "fp32"),
            ("tinyov", tiny, "bf16"),
        ]
        if dt == "fp32" or runtime.inference_precision(torch.bfloat16) == "bf16"
    }
    assert len(keys) == (4 if runtime.inference_precision(torch.bfloat16) == "bf16" else 3)
    assert runtime.COUNTS["convert"] == 0  # keys come before, and without, any conversion


def test_a_model_that_does_not_convert_runs_in_torch_after_one_line(tiny):
    for _attempt in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = load("tinyfixed", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
        lines = [str(w.message) for w in caught]
        assert len(lines) == 1 and "\n" not in lines[0], lines
        assert lines[0].startswith(
            "openvino: model 'tinyfixed' runs in torch: its output differs from torch by "
        )
        assert model.backend == "torch"
        ref = load("tinyfixed", weights=tiny, device="cpu", dtype="fp32")
        with torch.no_grad():
            assert torch.equal(model(X), ref(X))
    assert runtime.COUNTS["convert"] == 1  # the failure is cached too: the second load did not retry


def test_bf16_only_where_the_cpu_has_it(monkeypatch):
    import genedit_core.device as device

    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    assert runtime.inference_precision(torch.bfloat16) == "f32"
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16", "amx_tile"}))
    assert runtime.inference_precision(torch.bfloat16) == "bf16"
    assert runtime.inference_precision(torch.float32) == "f32"  # never for a card the core kept in fp32


def test_an_unwritable_cache_still_converts(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(blocker))
    model = load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
    ref = load("tinyov", weights=tiny, device="cpu", dtype="fp32")
    assert model.backend == "openvino" and runtime.COUNTS["convert"] == 1
    with torch.no_grad():
        assert float((model(X) - ref(X)).abs().max()) < 1e-5
    assert blocker.read_text() == ""


def test_a_conversion_failure_names_the_operations_openvino_lacks():
    report = (
        "Check 'false' failed at src/frontends/common_translators/src/unconverted_ops_report.cpp:151:\n"
        "FrontEnd API failed with OpConversionFailure:\nModel wasn't fully converted.\nSummary:\n"
        "-- No conversion rule found for operations: aten::diag, aten::linalg_svd\n"
        "-- Conversion is failed for: prim::Constant\n"
    )
    reason = runtime._conversion_failure(RuntimeError(report))
    assert reason == "OpenVINO has no conversion for aten::diag, aten::linalg_svd"
    assert runtime._conversion_failure(TypeError("type Tensor doesn't define __round__ method\nmore")) == (
        "type Tensor doesn't define __round__ method"
    )


def test_the_first_conversion_shows_progress_and_a_cached_load_does_not(tiny):
    """The conversion runs inside ``sdk.activity``, which ``genedit`` shows as a status line."""
    from contextlib import contextmanager

    from genedit_core.progress import set_activity_handler

    shown: list[str] = []

    @contextmanager
    def record(message):
        shown.append(message)
        yield

    previous = set_activity_handler(record)
    try:
        load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
        assert len(shown) == 1 and shown[0].startswith("openvino: converting 'tinyov' for this CPU, once")
        load("tinyov", weights=tiny, device="cpu", dtype="fp32", backend="openvino")
        assert len(shown) == 1  # from the cache: nothing to wait for
    finally:
        set_activity_handler(previous)
    assert runtime.COUNTS["convert"] == 1
