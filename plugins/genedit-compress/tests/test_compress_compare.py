"""``genedit bench MODEL --compare`` (issue 19, item 4): a row per path, and the auto table filled.

Structure only, never timings: the rows are there, each names its runtime and dtype, the numbers
are numbers, and the table ``--backend auto`` reads names the runtimes that agreed with fp32.
A toy converting runtime (``toysame``, registered as a ``genedit.backends`` entry point in the
test's own site folder) stands for OpenVINO and any other runtime: bench must find it by the group.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

RUNTIMES = """
    from dataclasses import replace


    def convert(model):
        inner = model.forward
        return replace(model, forward=lambda x: inner(x), backend="toysame")
"""

REFUSER = """
    import warnings

    from genedit_core.sdk import GeneditWarning


    def convert(model):
        warnings.warn("toyrefuse: does not convert; running it in torch", GeneditWarning)
        return model
"""


@pytest.fixture
def runtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "site"
    info = root / "genedit_toy_compare-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genedit-toy-compare\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[genedit.backends]\ntoysame = toysame\ntoyrefuse = toyrefuse\ntoybroken = no_such_module_here\n"
    )
    (root / "toysame.py").write_text(textwrap.dedent(RUNTIMES))
    (root / "toyrefuse.py").write_text(textwrap.dedent(REFUSER))
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "cache"))
    import genedit_compress.measure

    monkeypatch.setattr(genedit_compress.measure, "PEAK_SHAPE", (1, 64, 32, 32))  # a cheap peak probe


def test_compare_prints_a_row_per_path_and_writes_the_auto_table(cli, runtimes, tmp_path):
    from safetensors.torch import save_file

    from genedit_core.sdk import load

    artifact = tmp_path / "saved"  # a folder as optimize writes it: weights, and config naming the method
    artifact.mkdir()
    save_file(
        dict(load("tiny-edsr", device="cpu", dtype="fp32").module.state_dict()),
        str(artifact / "model.safetensors"),
    )
    (artifact / "config.json").write_text(
        json.dumps({"genedit": {"compress": {"method": "prune-unstructured"}}})
    )
    args = ["bench", "tiny-edsr", "--compare", "--size", "24", "--repeats", "1", "--no-onnx", "-q"]
    args += [
        "--backend",
        "toysame",
        "--backend",
        "toyrefuse",
        "--backend",
        "toybroken",
        "--artifact",
        str(artifact),
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    lines = out.splitlines()
    assert [ln.split(":")[0].strip() for ln in lines[:4]] == ["cpu", "device", "conv peak", "model"]
    assert "flags:" in lines[0] and "GFLOP/s fp32" in lines[2] and "64->64 3x3 on 1x64x32x32" in lines[2]
    columns = [
        "path",
        "runtime",
        "dtype",
        "median",
        "vs fp32",
        "GFLOP/s",
        "of peak",
        "PSNR vs fp32",
        "dPSNR vs GT",
    ]
    assert [c.strip() for c in lines[4].split("  ") if c.strip()] == columns
    rows = {ln.split("  ")[0].strip(): ln for ln in lines[5:-1]}
    assert list(rows) == [
        "torch fp32 eager",
        "torch default",
        "toybroken",
        "toyrefuse",
        "toysame",
        "artifact saved (prune-unstructured)",
    ]
    assert rows["toyrefuse"].split()[1] == "torch" and rows["toyrefuse"].endswith(
        "did not convert: ran in torch"
    )
    assert rows["toysame"].split()[1] == "toysame"
    assert rows.pop("toybroken").endswith(
        "failed: its entry point does not load ('genedit --verbose' says why)"
    )
    for label, row in rows.items():
        cells = row[len(label) :].split()
        assert cells[3] == "ms" and float(cells[2]) > 0 and cells[4].endswith("x")  # median, ratio
    assert lines[-1].startswith("auto       : ") and "written to " in lines[-1]

    table = json.loads((tmp_path / "cache" / "backends.json").read_text())["entries"]
    (entry,) = table.values()
    # the candidates: torch's default and the runtime that converted; not the one that fell back
    assert sorted(entry["times_ms"]) == ["torch", "toysame"] and entry["model"] == "tinysr:tiny-edsr x2"
    assert entry["bucket"] == "64" and entry["winner"] in ("torch", "toysame")


@pytest.mark.slow  # the ONNX export: about 5 s on a quiet machine, 15 s under load
def test_compare_json_has_every_measure_per_row(cli, runtimes):
    pytest.importorskip("onnxruntime")
    code, out, err = cli(
        "bench", "tiny-edsr", "--compare", "--size", "24", "--repeats", "1", "--backend", "toysame",
        "--backend", "onnxruntime", "--json", "-q",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    header, rows = result["header"], result["rows"]
    assert header["conv_peak_gflops"]["fp32"] > 0 and header["gflop_per_pass"] > 0
    assert header["auto"]["table"].endswith("backends.json")
    assert [r["path"] for r in rows] == [
        "torch fp32 eager",
        "torch default",
        "toysame",
        "onnxruntime (export)",
    ]
    assert rows[3]["runtime"] == "onnxruntime" and rows[3]["psnr_vs_fp32"] > 100  # an fp32 export
    for r in rows:
        assert r["median_ms"] > 0 and r["gflops"] > 0 and r["peak_share"] > 0
        assert math.isfinite(r["psnr_change_vs_truth"])
    assert rows[0]["psnr_vs_fp32"] == "inf"  # fp32 eager against itself; strict JSON has no Infinity
    # toysame runs torch's forward at the default dtype: exactly the torch default's output
    assert rows[2]["dtype"] == rows[1]["dtype"] and rows[2]["psnr_vs_fp32"] == rows[1]["psnr_vs_fp32"]


def test_compare_refuses_methods(cli, runtimes):
    code, out, err = cli("bench", "tiny-edsr", "--compare", "--method", "prune-unstructured")
    assert code == 2 and "bench --compare times the runtimes" in err
    code, out, err = cli("bench", "tiny-edsr", "--artifact", "x.onnx")
    assert code == 2 and "--artifact goes with --compare" in err
