"""The warm path (:mod:`genedit_core.warm`) with the openvino backend, on the tiny models.

A normal ``genedit run`` in OpenVINO records how to run its cached program; the next process with
the same request runs it through numpy with no torch at all (checked in a subprocess where any
``import torch`` raises), writes the same pixels and the same provenance plus ``warm: true``, and
every request it cannot serve exactly (cold cache, other weights, a corrupt index, a card that does
not declare a tiled forward, an input with alpha) takes the normal path instead.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from genedit_openvino import runtime
from genedit_openvino.cache import blob_path
from openvino_tiny import TinyPlugin, write_weights
from PIL import Image

from genedit_core.autobackend import record_backend_times
from genedit_core.device import cpu_has_native_bf16
from genedit_core.images import read_provenance
from genedit_core.testing import plugins_installed, run_cli
from genedit_core.warm import accelerator_present, index_path, read_index

HERE = Path(__file__).resolve().parent
# bf16 where the CPU computes it, so the tiler's rounding of the input to bf16 is exercised too
DTYPE = "bf16" if cpu_has_native_bf16() else "fp32"
DEVICE = ["--device", "cpu"] if accelerator_present() else []  # else the default, auto
RUNNER = f"""
import sys
if sys.argv[1] == "--no-torch":
    sys.modules["torch"] = None  # any import of torch raises ImportError
    del sys.argv[1]
sys.path.insert(0, {str(HERE)!r})
from openvino_tiny import TinyPlugin
from genedit_core.testing import plugins_installed
from genedit_cli.app import main
with plugins_installed(tinyov=TinyPlugin()):
    try:
        main(sys.argv[1:])
    finally:
        sys.stderr.write("torch imported: " + str(sys.modules.get("torch") is not None) + "\\n")
"""


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("GENEDIT_WARM", raising=False)
    monkeypatch.chdir(tmp_path)
    runtime.COUNTS.clear()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((45, 70, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    Image.fromarray((rng.random((30, 20)) * 255).astype(np.uint8), "L").save(tmp_path / "grey.png")
    with plugins_installed(tinyov=TinyPlugin()):
        yield write_weights(tmp_path / "tiny.safetensors")


def genedit(capsys, *argv: str) -> tuple[int, str, str]:
    return run_cli(capsys, "run", "upscale", *argv)


def spawn(*argv: str, torch: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-c", RUNNER, *([] if torch else ["--no-torch"]), "run", "upscale", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=os.environ.copy())


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im).copy()


def warm_flag(path: Path) -> bool:
    return bool((read_provenance(path) or {}).get("warm"))


@pytest.mark.parametrize("backend", ["openvino", "auto"])
def test_a_warm_process_imports_no_torch_and_writes_the_normal_pixels(tiny, tmp_path, backend):
    if backend == "auto":  # the table bench --compare fills says openvino is faster for this size
        from genedit_core.api import get_card

        times = {"torch": 10.0, "openvino": 5.0}
        record_backend_times(get_card("tinyov"), 2, "cpu", DTYPE, (45, 70), times)
    args = ["-m", "tinyov", "--weights", tiny, "--dtype", DTYPE, *DEVICE]
    if backend == "openvino":  # tiles of 32 (auto: the default tile, from free memory, also torch-free)
        args += ["--backend", "openvino", "--tile", "32"]
    cold = spawn(*args, "a.png", "grey.png", "--out-dir", "cold")
    assert cold.returncode == 0, cold.stderr
    assert len(read_index()) == 1  # the normal run recorded the request
    warm = spawn(*args, "a.png", "grey.png", "--out-dir", "warm", torch=False)
    assert warm.returncode == 0, warm.stderr
    assert "torch imported: False" in warm.stderr
    for name in ("a_tinyov_x2.png", "grey_tinyov_x2.png"):
        assert np.array_equal(pixels(tmp_path / "cold" / name), pixels(tmp_path / "warm" / name))
        normal, fast = read_provenance(tmp_path / "cold" / name), read_provenance(tmp_path / "warm" / name)
        assert normal is not None and fast is not None and normal["backend"] == "openvino"
        assert fast.pop("warm") is True and "warm" not in normal
        assert fast == normal  # backend, dtype, tile, overlap, weights ... all as the normal path wrote
    assert pixels(tmp_path / "warm" / "grey_tinyov_x2.png").shape == (60, 40)  # grey stays grey
    assert "a.png -> warm/a_tinyov_x2.png" in warm.stdout
    # the same lines and exit codes as the normal path: an existing output fails, --skip-existing skips
    again = spawn(*args, "a.png", "--out-dir", "warm", torch=False)
    assert (
        again.returncode == 1
        and "warm/a_tinyov_x2.png: exists (use --overwrite or --skip-existing)" in again.stderr
    )
    skip = spawn(*args, "a.png", "--out-dir", "warm", "--skip-existing", torch=False)
    assert skip.returncode == 0 and "(exists, skipped)" in skip.stdout, skip.stderr


def test_a_cold_cache_falls_back_and_fills_the_index(tiny, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="genedit.warm")
    args = ["-m", "tinyov", "--weights", tiny, "--backend", "openvino", "--device", "cpu", "a.png"]
    assert not index_path().exists()
    code, _, err = genedit(capsys, *args, "-o", "first.png")
    assert code == 0, err
    assert not warm_flag(tmp_path / "first.png") and runtime.COUNTS["convert"] == 1
    assert any("no warm index" in r.getMessage() for r in caplog.records)
    (entry,) = read_index().values()
    assert set(entry) == {"openvino"} and entry["openvino"]["scale"] == 2
    code, _, err = genedit(capsys, *args, "-o", "second.png")
    assert code == 0, err
    assert warm_flag(tmp_path / "second.png") and runtime.COUNTS["convert"] == 1
    assert np.array_equal(pixels(tmp_path / "first.png"), pixels(tmp_path / "second.png"))


def test_changed_weights_or_a_corrupt_index_fall_back(tiny, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="genedit.warm")
    args = ["-m", "tinyov", "--weights", tiny, "--backend", "openvino", "--device", "cpu", "a.png"]
    assert genedit(capsys, *args, "-o", "1.png")[0] == 0
    assert genedit(capsys, *args, "-o", "2.png")[0] == 0 and warm_flag(tmp_path / "2.png")
    write_weights(Path(tiny), seed=1)  # same file name, other bytes
    caplog.clear()
    assert genedit(capsys, *args, "-o", "3.png")[0] == 0
    assert not warm_flag(tmp_path / "3.png")
    assert not np.array_equal(pixels(tmp_path / "2.png"), pixels(tmp_path / "3.png"))
    assert any("no warm index entry" in r.getMessage() for r in caplog.records)
    assert len(read_index()) == 2  # the new weights were recorded beside the old ones
    assert genedit(capsys, *args, "-o", "4.png")[0] == 0 and warm_flag(tmp_path / "4.png")
    assert np.array_equal(pixels(tmp_path / "3.png"), pixels(tmp_path / "4.png"))
    index_path().write_text('{"version": 1, "entries": [')
    caplog.clear()
    assert genedit(capsys, *args, "-o", "5.png")[0] == 0
    assert not warm_flag(tmp_path / "5.png")
    assert any("ignored" in r.getMessage() for r in caplog.records)
    assert len(read_index()) == 1  # replaced by a whole index holding this run's entry
    assert genedit(capsys, *args, "-o", "6.png")[0] == 0 and warm_flag(tmp_path / "6.png")


def test_a_card_that_does_not_declare_a_tiled_forward_never_runs_warm(tiny, tmp_path, capsys):
    args = ["-m", "tinyplain", "--weights", tiny, "--backend", "openvino", "--device", "cpu", "a.png"]
    for out in ("1.png", "2.png"):
        code, _, err = genedit(capsys, *args, "-o", out)
        assert code == 0, err
        assert read_provenance(tmp_path / out)["backend"] == "openvino" and not warm_flag(tmp_path / out)
    assert not index_path().exists()


def test_torch_chosen_by_auto_or_asked_for_runs_normally(tiny, tmp_path, capsys):
    base = ["-m", "tinyov", "--weights", tiny, "--device", "cpu", "a.png"]
    assert genedit(capsys, *base, "--backend", "openvino", "-o", "1.png")[0] == 0
    assert genedit(capsys, *base, "--backend", "torch", "-o", "2.png")[0] == 0
    assert read_provenance(tmp_path / "2.png")["backend"] == "torch" and not warm_flag(tmp_path / "2.png")
    assert genedit(capsys, *base, "-o", "3.png")[0] == 0  # auto with no table: torch
    assert read_provenance(tmp_path / "3.png")["backend"] == "torch" and not warm_flag(tmp_path / "3.png")


def test_an_input_with_alpha_loads_the_model_and_the_batch_goes_on(tiny, tmp_path, capsys):
    rgba = np.random.default_rng(1).random((20, 24, 4))
    Image.fromarray((rgba * 255).astype(np.uint8), "RGBA").save(tmp_path / "b.png")
    args = ["-m", "tinyov", "--weights", tiny, "--backend", "openvino", "--device", "cpu"]
    assert genedit(capsys, *args, "a.png", "--out-dir", "first")[0] == 0
    code, out, err = genedit(capsys, *args, "a.png", "b.png", "--out-dir", "out")
    assert code == 0, err
    assert warm_flag(tmp_path / "out" / "a_tinyov_x2.png")
    alpha = tmp_path / "out" / "b_tinyov_x2.png"
    assert not warm_flag(alpha) and read_provenance(alpha)["backend"] == "openvino"
    assert pixels(alpha).shape == (40, 48, 4)


def test_a_program_gone_from_the_cache_falls_back_and_is_compiled_again(tiny, tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO, logger="genedit.warm")
    args = ["-m", "tinyov", "--weights", tiny, "--backend", "openvino", "--device", "cpu", "a.png"]
    assert genedit(capsys, *args, "-o", "1.png")[0] == 0
    ((fields,),) = [[e["fields"] for e in by.values()] for by in read_index().values()]
    blob = blob_path(Path(fields["cache"]), fields["precision"])
    blob.unlink()  # removed by hand, or by another cache cleaner
    assert genedit(capsys, *args, "-o", "2.png")[0] == 0
    assert not warm_flag(tmp_path / "2.png") and runtime.COUNTS["compile"] == 2
    assert any("has no cached program for it now" in r.getMessage() for r in caplog.records)
    assert blob.is_file()  # the normal run compiled and cached it again
    assert genedit(capsys, *args, "-o", "3.png")[0] == 0 and warm_flag(tmp_path / "3.png")
    assert np.array_equal(pixels(tmp_path / "1.png"), pixels(tmp_path / "3.png"))
