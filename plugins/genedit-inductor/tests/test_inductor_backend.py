"""The torch-compile backend on a tiny model: matches eager torch on odd sizes and tiles, loads in a
second process without compiling, keys its cache on what the program depends on, falls back in one line.

Compiling is the slow part (export, inductor and the C++ compiler): the module compiles the tiny
model once, in the ``compiled`` fixture, and every test that needs a program uses that one. That one
compile takes about 20 s of CPU (44 s of wall time at a load of 11 on 2 cores), above the 5 s a
test should take, so the tests that share it are marked ``slow``; the fallback test exports but
never compiles. Each fixture points
``GENEDIT_CACHE_DIR`` at its own folder, so ``runtime.COUNTS`` (compiles, checks, cache reads,
package loads in this process) says exactly what each load did; nothing here measures time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from genedit_inductor import runtime
from inductor_tiny import TinyPlugin, write_weights

from genedit_core.sdk import load, run_with_oom_retry
from genedit_core.testing import plugins_installed

HERE = Path(__file__).resolve().parent


def rand(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The one compile of this module: (compiled model, eager model, weights, cache dir, its stderr)."""
    tmp = tmp_path_factory.mktemp("inductor")
    with pytest.MonkeyPatch.context() as mp, plugins_installed(tinyic=TinyPlugin()):
        mp.setenv("GENEDIT_CACHE_DIR", str(tmp / "cache"))
        runtime.COUNTS.clear()
        weights = write_weights(tmp / "tiny.safetensors")
        eager = load("tinyic", weights=weights, device="cpu", dtype="fp32")
        err = tmp / "stderr.txt"
        with err.open("w") as stream:
            mp.setattr(sys, "stderr", stream)
            model = load("tinyic", weights=weights, device="cpu", dtype="fp32", backend="torch-compile")
            mp.undo()
        mp.setenv("GENEDIT_CACHE_DIR", str(tmp / "cache"))
        counts = dict(runtime.COUNTS)
        yield model, eager, weights, tmp, err.read_text(), counts


def test_entry_point_is_light_to_import():
    code = (
        "import sys\nfrom importlib import metadata\n"
        "(ep,) = [e for e in metadata.entry_points(group='genedit.backends') if e.name == 'torch-compile']\n"
        "backend = ep.load()\nassert callable(backend.convert)\n"
        "heavy = [m for m in ('torch', 'numpy') if m in sys.modules]\nassert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow  # shares the module's one compile (see the module docstring)
def test_output_matches_eager_on_odd_sizes_batches_and_tiles(compiled):
    model, eager, _, _, stderr, counts = compiled
    assert (eager.backend, model.backend) == ("torch", "torch-compile")
    assert counts == {"compile": 1, "check": 1, "load": 2}  # the check's load, then the model's
    # the first compile said so on stderr, once
    assert stderr.count("torch-compile: compiling 'tinyic' for this CPU, once") == 1, stderr
    with torch.no_grad():
        for shape in [(1, 3, 23, 31), (3, 3, 17, 64), (1, 3, 101, 19)]:  # one program, every size
            x = rand(*shape)
            got, want = model(x), eager(x)
            assert got.shape == want.shape == (shape[0], 3, 2 * shape[2], 2 * shape[3])
            assert float((got - want).abs().max()) < 1e-5, shape
    # the tiler's pieces (32 plus context, fewer at the edges) give the untiled eager output
    big = rand(1, 3, 45, 70, seed=2)
    tiled = run_with_oom_retry(model, big, 32)
    assert float((tiled - run_with_oom_retry(eager, big, None)).abs().max()) < 1e-5


@pytest.mark.slow  # shares the module's one compile (see the module docstring)
def test_a_side_below_the_bucket_is_padded_by_reflection_and_cropped(compiled):
    model, eager, _, _, _, _ = compiled
    x = rand(1, 3, 5, 40)
    padded, ph, pw = runtime.pad_to_bucket(x, 8)
    assert (ph, pw) == (3, 0) and padded.shape[-2:] == (8, 40)
    assert torch.equal(padded[..., :5, :], x) and torch.equal(padded[..., 5, :], x[..., 3, :])  # mirrored
    # a side too short to mirror is replicated instead
    tiny, _, _ = runtime.pad_to_bucket(rand(1, 3, 1, 3), 8)
    assert tiny.shape[-2:] == (8, 8) and torch.equal(tiny[..., -1, -1], tiny[..., 0, 2])
    # the model's own bucket starts at 2 pixels: a 1-pixel row is padded, run, and cropped back
    lo = runtime.side_range(model)[0]
    row = rand(1, 3, 1, 9)
    with torch.no_grad():
        got = model(row)
        padded, _, _ = runtime.pad_to_bucket(row, lo)
        want = runtime.crop_to(eager(padded), tuple(row.shape), tuple(padded.shape))
    assert lo == 2 and got.shape == (1, 3, 2, 18)
    assert float((got - want).abs().max()) < 1e-5


@pytest.mark.slow  # shares the module's one compile (see the module docstring)
def test_a_second_process_loads_the_program_and_does_not_compile(compiled):
    model, _, weights, tmp, _, _ = compiled
    entry = Path(model.hyperparameters["torch-compile"]["cache"])
    assert {p.name for p in entry.iterdir()} == {"key.json", "check.json", "model.pt2"}
    key = json.loads((entry / "key.json").read_text())
    assert key["card"] == "tinyic:tinyic" and key["scale"] == 2 and key["dtype"] == "fp32"
    assert key["torch"] == torch.__version__ and len(key["weights_sha256"]) == 64
    x = rand(1, 3, 23, 31)
    torch.save(x, tmp / "x.pt")
    code = f"""
import json, sys, torch
sys.path.insert(0, {str(HERE)!r})
from inductor_tiny import TinyPlugin
from genedit_core.sdk import load
from genedit_core.testing import plugins_installed
from genedit_inductor import runtime
with plugins_installed(tinyic=TinyPlugin()):
    m = load("tinyic", weights={weights!r}, device="cpu", dtype="fp32", backend="torch-compile")
    assert m.backend == "torch-compile"
    with torch.no_grad():
        torch.save(m(torch.load({str(tmp / "x.pt")!r})), {str(tmp / "y.pt")!r})
print(json.dumps(dict(runtime.COUNTS)))
"""
    env = {**__import__("os").environ, "GENEDIT_CACHE_DIR": str(tmp / "cache")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {"cache_hit": 1, "load": 1}  # no compile
    assert "compiling" not in proc.stderr
    with torch.no_grad():
        assert torch.equal(torch.load(tmp / "y.pt"), model(x))


def test_the_key_covers_card_weights_scale_dtype_bucket_torch_and_cpu(tmp_path, monkeypatch):
    import genedit_core.device as device

    with plugins_installed(tinyic=TinyPlugin()):
        eager = load(
            "tinyic", weights=write_weights(tmp_path / "tiny.safetensors"), device="cpu", dtype="fp32"
        )
    base = runtime.key_fields(eager)
    variants = [
        replace(eager, card=replace(eager.card, name="other")),
        replace(eager, scale=3),
        replace(eager, dtype=torch.bfloat16),
        replace(eager, size_multiple=4),  # another bucket: sides in steps of 4
        replace(eager, card=replace(eager.card, channels_last=not eager.card.channels_last)),
    ]
    keys = {runtime.cache_key(base)} | {runtime.cache_key(runtime.key_fields(m)) for m in variants}
    keys.add(runtime.cache_key({**base, "weights_sha256": "0" * 64}))
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    keys.add(runtime.cache_key(runtime.key_fields(eager)))
    monkeypatch.undo()
    monkeypatch.setattr(device, "cpu_flags", lambda: frozenset({"avx2", "fma"}))
    keys.add(runtime.cache_key(runtime.key_fields(eager)))
    assert len(keys) == 9
    assert runtime.input_bucket(replace(eager, size_multiple=4)).startswith("?x3x[4..8192]x[4..8192]/4")
    assert runtime.cache_key(runtime.key_fields(eager)) != runtime.cache_key(base)  # the flags counted


def test_a_model_that_does_not_compile_runs_in_torch_after_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_CACHE_DIR", str(tmp_path / "cache"))
    runtime.COUNTS.clear()
    x = rand(1, 3, 23, 31)
    with plugins_installed(tinyic=TinyPlugin()):
        weights = write_weights(tmp_path / "tiny.safetensors")
        ref = load("tinyshape", weights=weights, device="cpu", dtype="fp32")
        for _attempt in range(2):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = load(
                    "tinyshape", weights=weights, device="cpu", dtype="fp32", backend="torch-compile"
                )
            lines = [str(w.message) for w in caught]
            assert len(lines) == 1 and "\n" not in lines[0], lines
            assert lines[0].startswith(
                "torch-compile: model 'tinyshape' runs in torch: it does not export ("
            ), lines
            assert model.backend == "torch"
            with torch.no_grad():
                assert torch.equal(model(x), ref(x))
    assert runtime.COUNTS["compile"] == 1 and runtime.COUNTS["cache_hit"] == 1  # the failure is cached
