"""Outputs that make no sense are errors, not black or tiny images written with exit 0.

Each attack is built here: a toy plugin whose ``edit`` or ``generate`` returns NaN, inf, the wrong
size for the scale, a channel count no image has, integers, or something that is not a tensor; and
real ESPCN weights with NaN or inf written to a temporary safetensors file. Every test asserts the
exit code, one error line per input naming the file, the model and its weights, no traceback, no
output file for the bad input, the inputs unchanged, and that the batch went on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from inline_plugin import CardsPlugin, nearest_x2_model
from PIL import Image

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.errors import ImageError, PluginError

SR_WEIGHTS = (
    Path(__file__).resolve().parents[2] / "plugins/genedit-sr/genedit_sr/weights/espcn-x2.safetensors"
)


class GarbagePlugin(CardsPlugin):
    """Model 'junk' (x2 upscale, and generate): what ``edit`` and ``generate`` return is the test's.

    ``edit_fn(x)`` gets the input N×C×H×W; ``gen_fn(n)`` the number of seeds. ``only`` limits the
    garbage to inputs whose width is ``only`` (the others get a correct nearest-neighbour x2), so
    a batch can hold good and bad files.
    """

    def __init__(self, edit_fn=None, gen_fn=None, only: int | None = None):
        card = ModelCard(
            name="junk",
            tasks=("upscale", "generate"),
            family="toy",
            summary="returns what the test says",
            scales=(2,),
            needs_weights=False,
        )
        super().__init__(card)
        self.edit_fn, self.gen_fn, self.only = edit_fn, gen_fn, only

    @hookimpl
    def load_model(self, request):
        return nearest_x2_model(request)

    @hookimpl
    def edit(self, request):
        x = request.image
        if self.only is not None and x.shape[-1] != self.only:
            return request.tiler(request.model, x)
        return self.edit_fn(x)

    @hookimpl
    def generate(self, request):
        return self.gen_fn(len(request.seeds))


def _png(path: Path, w: int, h: int = 6) -> Path:
    Image.fromarray(np.random.default_rng(w).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _up(x: torch.Tensor) -> torch.Tensor:
    return x.repeat_interleave(2, -2).repeat_interleave(2, -1)


def _with(x: torch.Tensor, value: float) -> torch.Tensor:
    y = _up(x)
    y[..., 0, 0] = value
    return y


EDIT_ATTACKS = {
    "nan": (lambda x: torch.full_like(_up(x), float("nan")), "NaN or infinite value(s)"),
    "one-inf": (lambda x: _with(x, float("inf")), "produced 3 NaN or infinite value(s) of 504"),
    "same-size": (lambda x: x.clone(), "returned 7×6 pixels where x2 of the input is 14×12"),
    "tiny": (lambda x: x[..., :1, :1].clone(), "returned 1×1 pixels where x2 of the input is 14×12"),
    "five-channels": (lambda x: torch.zeros(1, 5, 12, 14), "returned 5 channels"),
    "two-channels": (lambda x: torch.zeros(1, 2, 12, 14), "returned 2 channels"),
    "batch-of-two": (lambda x: torch.zeros(2, 3, 12, 14), "returned 2 image(s)"),
    "integers": (lambda x: (_up(x) * 255).to(torch.uint8), "returned a uint8 tensor"),
    "numpy": (lambda x: _up(x).numpy(), "returned ndarray, not an image tensor"),
    "flat": (lambda x: torch.zeros(12 * 14 * 3), "returned shape (504,)"),
    "empty-list": (lambda x: [], "returned no image"),
}


@pytest.mark.parametrize("attack", sorted(EDIT_ATTACKS))
def test_edit_garbage_fails_that_file_only(attack, install, cli, tmp_path):
    make, expected = EDIT_ATTACKS[attack]
    install(GarbagePlugin(edit_fn=make, only=7))
    bad, good = _png(tmp_path / "bad.png", 7), _png(tmp_path / "good.png", 9)
    before = {p: p.read_bytes() for p in (bad, good)}
    out = tmp_path / "out"
    result = cli("run", "upscale", "-m", "junk", str(bad), str(good), "--out-dir", str(out), "-q")
    assert "Traceback" not in result.err, result
    assert result.code == 1, result
    assert len(result.error_lines) == 1, result
    line = result.error_lines[0]
    assert line.startswith(f"error: {bad}: model 'junk' x2 (no weights): task 'upscale' "), line
    assert expected in line, line
    assert sorted(p.name for p in out.iterdir()) == ["good_junk_x2.png"]  # the batch went on
    assert {p: p.read_bytes() for p in (bad, good)} == before


def _bad_espcn(tmp_path: Path, value: float) -> Path:
    from safetensors.torch import load_file, save_file

    state = load_file(str(SR_WEIGHTS))
    state["conv3.bias"][0] = value  # the last layer: reaches the output whatever the activations do
    path = tmp_path / f"espcn-{value}.safetensors"
    save_file(state, str(path))
    return path


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_real_model_with_broken_weights(value, install, cli, tmp_path):
    install(sr=True)
    weights = _bad_espcn(tmp_path, value)
    inputs = [_png(tmp_path / "a.png", 16, 12), _png(tmp_path / "b.png", 10, 8)]
    before = [p.read_bytes() for p in inputs]
    out = tmp_path / "out"
    args = ["run", "upscale", "-m", "espcn", "--weights", str(weights), "--dtype", "fp32", "-q"]
    result = cli(*args, *map(str, inputs), "--out-dir", str(out))
    assert "Traceback" not in result.err, result
    assert result.code == 1, result
    assert len(result.error_lines) == 2, result
    for src, line in zip(inputs, result.error_lines):
        assert line.startswith(f"error: {src}: model 'espcn' x2 (weights {weights}): "), line
        assert "NaN or infinite value(s)" in line and "the weights or the plugin are broken" in line
    assert not out.exists() or not any(out.iterdir())
    assert [p.read_bytes() for p in inputs] == before


def test_python_api_refuses_broken_weights(install, tmp_path):
    install(sr=True)
    from genedit_core.api import load
    from genedit_core.images import read_image
    from genedit_core.pipeline import apply

    model = load("espcn", weights=str(_bad_espcn(tmp_path, float("nan"))), dtype="fp32")
    image = read_image(_png(tmp_path / "a.png", 16, 12))
    with pytest.raises(ImageError, match=r"a\.png: model 'espcn' x2 \(weights .*\): .*NaN"):
        apply(model, image, task="upscale")


GENERATE_ATTACKS = {
    "nan": (lambda n: torch.full((n, 3, 8, 8), float("nan")), "NaN or infinite value(s)"),
    "one-inf": (
        lambda n: torch.zeros(n, 3, 8, 8).index_fill_(0, torch.tensor([n - 1]), float("inf")),
        "NaN or",
    ),
    "too-few": (lambda n: torch.zeros(n - 1, 3, 8, 8), "returned 2 image(s) (shape (2, 3, 8, 8)) where 3"),
    "unbatched": (lambda n: torch.zeros(3, 8, 8), "expected N×C×H×W"),
    "six-channels": (lambda n: torch.zeros(n, 6, 8, 8), "returned 6 channels"),
    "empty": (lambda n: torch.zeros(n, 3, 0, 8), "returned an empty image"),
    "integers": (lambda n: torch.zeros(n, 3, 8, 8, dtype=torch.int64), "returned a int64 tensor"),
}


@pytest.mark.parametrize("attack", sorted(GENERATE_ATTACKS))
def test_generate_garbage_writes_nothing(attack, install, cli, tmp_path):
    make, expected = GENERATE_ATTACKS[attack]
    install(GarbagePlugin(gen_fn=make))
    out = tmp_path / "gen"
    result = cli("generate", "junk", "--seeds", "0-2", "--grid", "--out-dir", str(out))
    assert "Traceback" not in result.err, result
    assert result.code == 1, result
    assert len(result.error_lines) == 1, result
    line = result.error_lines[0]
    assert line.startswith("error: model 'junk' x2 (no weights): task 'generate' "), line
    assert expected in line, line
    assert not out.exists() or not any(out.iterdir())


def test_generate_api_checks_too(install):
    install(GarbagePlugin(gen_fn=lambda n: torch.zeros(n, 4, 8, 8)))
    from genedit_core.api import load

    model = load("junk")
    assert model.generate([0, 1]).shape == (2, 4, 8, 8)  # RGBA is an image
    with pytest.raises(PluginError, match=r"returned 2 image\(s\) .* where 3 were asked for"):
        model.generate([0, 1], interpolate=(0, 1), steps=3)  # an interpolation gives `steps` frames
