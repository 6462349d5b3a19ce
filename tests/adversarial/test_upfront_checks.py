"""Bad options are refused before any work: one line, exit 2, no model loaded, nothing written.

Each case gives ``genedit run`` or ``genedit generate`` one bad value (a negative overlap, a seed
range that would fill memory, ``GENEDIT_MAX_PIXELS=abc``, ``--device ''``, a type genedit cannot
write, an input that cannot be written back) against a toy plugin that counts its loads, and
asserts the exact line, no traceback, zero loads, no output folder and the inputs unchanged.
Weights that are a FIFO or a device hung genedit; those run in a subprocess with a timeout.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from toy_plugin import ToyPlugin, hub_variant, toy_bytes, toy_card, toy_site

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.options import Option

TYPES = "png, jpg, jpeg, webp, tif, tiff, bmp"
DEVICES = "expected auto, cpu, cuda, cuda:N or mps"


class CountingPlugin:
    """Model 'cnt' (x2 upscale and generate) that records every load."""

    name = "cnt"

    def __init__(self) -> None:
        self.loads = 0

    @hookimpl
    def register_models(self, register):
        card = ModelCard(
            name="cnt",
            tasks=("upscale", "generate"),
            family="toy",
            summary="counts loads",
            needs_weights=False,
            options={
                "generate": (
                    Option("truncation", float, None, "z scale", low=0.0, high=1.0),
                    Option("style_mix", int, None, "a seed", low=0, high=2**63 - 1),
                )
            },
        )
        register(card)

    @hookimpl
    def load_model(self, request):
        if request.card.plugin != self.name:
            return None
        from genedit_core.model import LoadedModel

        self.loads += 1
        net = torch.nn.Upsample(scale_factor=2, mode="nearest")
        return LoadedModel(
            card=request.card, module=net, forward=net, device=request.device, dtype=request.dtype, scale=2
        )

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image) if request.card.plugin == self.name else None

    @hookimpl
    def generate(self, request):
        return torch.rand(len(request.seeds), 3, 4, 4) if request.card.plugin == self.name else None


@pytest.fixture
def counting(install) -> CountingPlugin:
    plugin = CountingPlugin()
    install(plugin)
    return plugin


def _png(path: Path) -> Path:
    Image.fromarray(np.full((4, 5, 3), 50, np.uint8)).save(path)
    return path


def _refused(result, line: str, plugin: CountingPlugin, *untouched: Path) -> None:
    assert "Traceback" not in result.err, result
    assert result.code == 2, result
    assert result.error_lines == [f"error: {line}"], result
    assert plugin.loads == 0
    for folder in untouched:
        assert not folder.exists(), folder


RUN_CASES = [
    (["--tile-overlap", "-1"], "--tile-overlap -1: expected 0 or more pixels"),
    (["--tile", "-64"], "--tile -64: expected a number of pixels, 'auto' or 0 (no tiling)"),
    (["--tile", "big"], "--tile big: expected a number of pixels, 'auto' or 0 (no tiling)"),
    (["--max-pixels", "-5"], "--max-pixels -5: expected a positive number of pixels"),
    (["--max-pixels", "0"], "--max-pixels 0: expected a positive number of pixels"),
    (["--device", ""], f"--device '': {DEVICES}"),
    (["--device", "gpu"], f"--device gpu: {DEVICES}"),
    (["--device", "cuda:x"], f"--device cuda:x: {DEVICES}"),
    (["--dtype", ""], "--dtype '': expected one of auto, fp32, bf16, fp16"),
    (["--ext", "gif"], f"--ext gif: genedit cannot write this type (use {TYPES})"),
    (["--ext", ".exe"], f"--ext .exe: genedit cannot write this type (use {TYPES})"),
    (["--sharpen", "2"], "model 'cnt' (upscale): unknown option --sharpen (valid options: none)"),
]


@pytest.mark.parametrize(("extra", "line"), RUN_CASES, ids=[" ".join(c[0]) or "empty" for c in RUN_CASES])
def test_run_option(extra, line, counting, cli, tmp_path):
    src = _png(tmp_path / "a.png")
    before = src.read_bytes()
    result = cli("run", "upscale", "-m", "cnt", str(src), "--out-dir", str(tmp_path / "out"), *extra)
    _refused(result, line, counting, tmp_path / "out")
    assert src.read_bytes() == before


def test_output_type_that_cannot_be_written(counting, cli, tmp_path):
    src = _png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "cnt", str(src), "-o", str(tmp_path / "out" / "b.gif"))
    _refused(
        result, f"-o {tmp_path / 'out' / 'b.gif'}: genedit cannot write '.gif' files (use {TYPES})", counting
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["anim.gif", "scan.pcx", "photo"])
def test_input_that_cannot_be_written_back(name, counting, cli, tmp_path):
    good = _png(tmp_path / "good.png")
    odd = tmp_path / name
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(odd, format="GIF")
    before = odd.read_bytes()
    result = cli("run", "upscale", "-m", "cnt", str(good), str(odd), "--out-dir", str(tmp_path / "out"))
    kind = f"'{odd.suffix}' files" if odd.suffix else "files without a type suffix"
    line = (
        f"{odd}: genedit cannot write {kind}, so its output cannot keep the input's type; "
        f"pass --ext png (or another of {TYPES})"
    )
    _refused(result, line, counting, tmp_path / "out")
    assert odd.read_bytes() == before


@pytest.mark.parametrize("value", ["abc", "-3", "0", "1e9"])
def test_max_pixels_from_the_environment(value, counting, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GENEDIT_MAX_PIXELS", value)
    src = _png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "cnt", str(src), "--out-dir", str(tmp_path / "out"))
    _refused(result, f"GENEDIT_MAX_PIXELS={value!r}: expected a positive whole number of pixels", counting)
    monkeypatch.setenv("GENEDIT_MAX_PIXELS", "1_000")  # a good value still works
    result = cli("run", "upscale", "-m", "cnt", str(src), "--out-dir", str(tmp_path / "out"), "-q")
    assert result.code == 0, result


BIG = "99999999999999999999"
GENERATE_CASES = [
    (
        ["--seeds", "0-99999999999"],
        "--seeds 0-99999999999: more than 10,000 values; split the work into several commands",
    ),
    (
        ["--seeds", "0-6000,7000-12000"],
        "--seeds 0-6000,7000-12000: more than 10,000 values; split the work into several commands",
    ),
    (["--seeds", f"0,{BIG}"], f"--seeds 0,{BIG}: each value must be between 0 and {2**63 - 1}"),
    (["--seeds", "9-2"], "--seeds 9-2: expected e.g. 0-15, 0,3,7 or 0-3,9"),
    (["--steps", "1"], "--steps 1: expected 2 to 1,000 frames"),
    (["--steps", "100000"], "--steps 100000: expected 2 to 1,000 frames"),
    (["--style-mix", BIG], f"--style-mix {BIG}: expected a value from 0 to {2**63 - 1}"),
    (["--truncation", "1.5"], "--truncation 1.5: expected a value from 0 to 1"),
    (
        ["--truncaton", "0.5"],
        "model 'cnt' (generate): unknown option --truncaton; did you mean --truncation? "
        "(valid options: --truncation, --style-mix)",
    ),
    (
        ["--class", "3"],
        "model 'cnt' (generate): unknown option --class (valid options: --truncation, --style-mix)",
    ),
    (["--device", ""], f"--device '': {DEVICES}"),
]


@pytest.mark.parametrize(("extra", "line"), GENERATE_CASES, ids=[" ".join(c[0]) for c in GENERATE_CASES])
def test_generate_option(extra, line, counting, cli, tmp_path):
    out = tmp_path / "gen"
    _refused(cli("generate", "cnt", "--out-dir", str(out), *extra), line, counting, out)


def test_generate_help_lists_the_models_options_without_loading_it(counting, cli):
    shown = cli("generate", "cnt", "--help")
    assert shown.code == 0 and counting.loads == 0
    assert "Options of cnt for generate:" in shown.out and "--style-mix INT  a seed (0 to" in shown.out


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        (["--steps", "abc"], "--steps abc: expected an integer"),
        (["--interpolate", "3,x"], "--interpolate x: expected an integer"),
        (["--truncation", "much"], "--truncation much: expected a number"),
    ],
)
def test_run_generate_option(extra, line, counting, cli, tmp_path):
    out = tmp_path / "gen"
    _refused(cli("run", "generate", "-m", "cnt", "--out-dir", str(out), *extra), line, counting, out)


def test_train_device(cli, tmp_path):
    result = cli("train", "cnt-not-needed", "--device", "", "--out", str(tmp_path / "run"))
    assert "Traceback" not in result.err and result.code == 2, result
    assert result.error_lines == [f"error: --device '': {DEVICES}"]
    assert not (tmp_path / "run").exists()


# ---- weights that are not regular files ----------------------------------------------------------------
def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A subprocess with a timeout: a hang (the old behaviour on a FIFO) fails the test, not CI.
    The toy plugins alone are loaded (model ``toy``: a 1×1 conv whose weights ``--weights`` names)."""
    env = {**os.environ, **toy_site(cwd / "toy-site"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "genedit_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "fifo-backend"])
def test_weights_that_never_end(kind, tmp_path):
    src = _png(tmp_path / "a.png")
    if kind == "dev-zero":
        weights, what = "/dev/zero", "a device"
    else:
        weights, what = str(tmp_path / ("w.onnx" if kind == "fifo-backend" else "w.safetensors")), "a FIFO"
        os.mkfifo(weights)
    args = ["run", "upscale", "-m", "toy", "--weights", weights, str(src), "--out-dir", "out"]
    if kind == "fifo-backend":
        args += ["--backend", "onnxruntime"]
    result = _run_cli(args, tmp_path)  # raises TimeoutExpired if it hangs
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: {weights}: {what}, not a weights file or folder; pass a regular file or a run folder"
    ]
    assert not (tmp_path / "out").exists()


def test_run_folder_whose_weights_are_a_fifo(install, cli, tmp_path):
    """A run folder's candidates are taken only when they are regular files (``is_file`` never
    opens), so a FIFO there is skipped without blocking."""
    install(ToyPlugin(toy_card(hub_variant())))
    folder = tmp_path / "run"
    (folder / "checkpoints").mkdir(parents=True)
    os.mkfifo(folder / "model.safetensors")
    os.mkfifo(folder / "checkpoints" / "best.safetensors")
    result = cli("run", "upscale", "-m", "toy", "--weights", str(folder), str(_png(tmp_path / "a.png")))
    assert result.code == 1 and "Traceback" not in result.err, result
    assert result.error_lines == [
        f"error: {folder}: folder holds no model.safetensors / weights.safetensors / last.safetensors"
    ]


def _toy_weights(path: Path) -> Path:
    """A valid weights file for model ``toy`` (identity x2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(toy_bytes())
    return path


def test_weights_size_is_capped(install, cli, tmp_path, monkeypatch):
    install(ToyPlugin(toy_card(hub_variant())))
    weights = _toy_weights(tmp_path / "toy.safetensors")
    size = weights.stat().st_size
    monkeypatch.setenv("GENEDIT_MAX_WEIGHTS_BYTES", str(size - 1))
    src = _png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "toy", "--weights", str(weights), str(src), "--out-dir", "o")
    assert result.code == 2 and "Traceback" not in result.err, result
    assert result.error_lines == [
        f"error: {weights}: {size:,} bytes is more than the {size - 1:,} a weights file may have "
        "(raise GENEDIT_MAX_WEIGHTS_BYTES if it is right)"
    ]
    monkeypatch.setenv("GENEDIT_MAX_WEIGHTS_BYTES", "lots")
    result = cli("run", "upscale", "-m", "toy", "--weights", str(weights), str(src), "--out-dir", "o")
    assert result.code == 2
    assert result.error_lines == [
        "error: GENEDIT_MAX_WEIGHTS_BYTES='lots': expected a positive whole number of bytes"
    ]
    monkeypatch.setenv("GENEDIT_MAX_WEIGHTS_BYTES", str(size))
    result = cli("run", "upscale", "-m", "toy", "--weights", str(weights), str(src), "--out-dir", "o", "-q")
    assert result.code == 0, result


def test_config_next_to_weights_is_capped(install, cli, tmp_path):
    install(ToyPlugin(toy_card(hub_variant())))
    folder = tmp_path / "w"
    _toy_weights(folder / "model.safetensors")
    (folder / "config.json").write_text('{"pad": "' + "x" * (1 << 20) + '"}')
    result = cli("run", "upscale", "-m", "toy", "--weights", str(folder), str(_png(tmp_path / "a.png")))
    assert result.code == 1 and "Traceback" not in result.err, result
    assert result.error_lines == [
        f"error: {folder / 'config.json'}: more than 1 MiB, too large for a model config"
    ]
