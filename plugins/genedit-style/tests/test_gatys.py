"""Gatys optimisation: the style (Gram) loss really drops, the content stays, options are checked."""

from __future__ import annotations

import warnings
from pathlib import Path

import genedit_style.plugin
import numpy as np
import pytest
import torch
from genedit_style.build import tiny_vgg16_hed
from genedit_style.features import build_features
from genedit_style.gatys import GatysLoss, StopEarly, keep_colour, stylize
from genedit_style.options import GatysSettings
from genedit_style.styleimage import read_style
from PIL import Image
from safetensors.torch import save_file

from genedit_core.sdk import GeneditWarning, ImageError, UsageError, load, read_image
from genedit_core.testing import plugins_installed

CAT = Path(__file__).resolve().parents[3] / "examples" / "cat.png"


@pytest.fixture(scope="module")
def vgg16_hed():
    with plugins_installed(style=genedit_style.plugin):
        return load("gatys", device="cpu", dtype="fp32").module


def _photo(size: int = 32) -> torch.Tensor:
    x = torch.from_numpy(read_image(CAT).pixels).permute(2, 0, 1)[None][:, :3].float()
    return torch.nn.functional.interpolate(x, size=(size, size * 3 // 2), mode="area")


def test_lbfgs_lowers_the_style_loss_and_keeps_the_content(vgg16_hed):
    photo, painting = _photo(), read_style(None)
    s = GatysSettings(steps=10, size=0)
    result = stylize(vgg16_hed, photo, painting, s)
    assert result.image.shape == photo.shape and len(result.history) == 10
    assert result.end["style"] < 0.5 * result.start["style"]
    # The content is still there: the result is far closer to the photo, in conv4_2 features, than
    # the painting itself is (both measured by the same loss).
    painting_as_result = torch.nn.functional.interpolate(painting, size=photo.shape[-2:], mode="area")
    loss = GatysLoss(vgg16_hed, photo, painting, s)
    with torch.no_grad():
        painting_content = float(loss.terms(painting_as_result)["content"])
    assert result.end["content"] < 0.5 * painting_content


def test_adam_from_noise_also_lowers_the_style_loss():
    net = build_features(tiny_vgg16_hed(), "tiny")
    photo = torch.rand(1, 3, 16, 24, generator=torch.Generator().manual_seed(0))
    style = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) ** 3
    s = GatysSettings(steps=40, optimizer="adam", lr=0.1, init="noise", content_weight=0.0, size=0)
    result = stylize(net, photo, style, s)
    assert result.history[-1]["style"] < 0.5 * result.history[0]["style"]
    assert float(result.image.min()) >= 0 and float(result.image.max()) <= 1


def test_octaves_and_size_give_the_asked_longer_side():
    net = build_features(tiny_vgg16_hed(), "tiny")
    photo = torch.rand(1, 3, 30, 60)
    result = stylize(net, photo, torch.rand(1, 3, 20, 20), GatysSettings(steps=2, size=40, octaves=2))
    assert result.image.shape[-2:] == (20, 40)
    assert len(result.history) == 4  # two steps in each octave
    small = stylize(net, photo, torch.rand(1, 3, 8, 8), GatysSettings(steps=1, size=500))
    assert small.image.shape[-2:] == (30, 60)  # never upscales the photo


@pytest.mark.parametrize("octaves", [1, 2])
def test_start_and_end_losses_are_those_of_the_photo_and_the_result(octaves):
    # start and end are taken from the optimiser's own evaluations where they are the same
    # point (no extra network passes); they must equal the losses measured afresh
    net = build_features(tiny_vgg16_hed(), "tiny")
    g = torch.Generator().manual_seed(0)
    # the style image at the result's longer side, so that stylize uses it as it is
    photo, style = torch.rand(1, 3, 16, 24, generator=g), torch.rand(1, 3, 24, 24, generator=g)
    s = GatysSettings(steps=5, size=0, octaves=octaves, tv_weight=0.1)
    result = stylize(net, photo, style, s)
    loss = GatysLoss(net, photo, style, s)
    with torch.no_grad():
        fresh_start = {k: float(v) for k, v in loss.terms(photo).items()}
        # the result before clamping is what L-BFGS evaluated last; clamping moves it only a little
        fresh_end = {k: float(v) for k, v in loss.terms(result.image).items()}
    assert result.start == pytest.approx(fresh_start, rel=1e-5)
    assert result.end["style"] == pytest.approx(fresh_end["style"], rel=0.05)


def test_progress_sees_every_step_and_can_stop_the_run_keeping_the_image():
    net = build_features(tiny_vgg16_hed(), "tiny")
    g = torch.Generator().manual_seed(0)
    photo, style = torch.rand(1, 3, 16, 24, generator=g), torch.rand(1, 3, 16, 16, generator=g)
    seen: list[tuple[int, int, dict[str, float]]] = []

    def progress(step: int, total: int, losses: dict[str, float]) -> None:
        seen.append((step, total, losses))
        if step == 3:
            raise StopEarly

    result = stylize(net, photo, style, GatysSettings(steps=6, size=32, octaves=2), progress)
    assert [(step, total) for step, total, _ in seen] == [(1, 12), (2, 12), (3, 12)]
    assert all(set(losses) == {"content", "style", "tv", "total"} for _, _, losses in seen)
    assert result.history == [losses for _, _, losses in seen]
    assert result.image.shape[-2:] == (16, 24)  # the coarse octave's image, brought to full size
    assert set(result.end) == set(result.start) == {"content", "style", "tv"}


def test_preserve_colour_keeps_the_photos_chroma():
    g = torch.Generator().manual_seed(0)
    # mid-range colours, so that no channel of the mix is clipped to 0-1
    result = torch.rand(1, 3, 8, 8, generator=g) * 0.4 + 0.3
    content = torch.rand(1, 3, 8, 8, generator=g) * 0.2 + 0.4
    mixed = keep_colour(result, content)
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    assert torch.allclose((mixed * weights).sum(1), (result * weights).sum(1), atol=0.03)  # result's luma
    cb = torch.tensor([-0.168736, -0.331264, 0.5]).view(1, 3, 1, 1)
    assert torch.allclose((mixed * cb).sum(1), (content * cb).sum(1), atol=0.03)  # photo's chroma


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"steps": "0"}, "--steps"),
        ({"optimizer": "sgd"}, "--optimizer"),
        ({"style_layers": " , "}, "--style-layers"),
        ({"octaves": "9"}, "--octaves 9"),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(params, message):
    with pytest.raises(UsageError, match=message):
        GatysSettings.from_params(params)


def test_an_unknown_layer_names_the_valid_ones():
    net = build_features(tiny_vgg16_hed(), "tiny")
    with pytest.raises(UsageError, match=r"no layer conv6_1 .*layers: conv1_1, conv1_2"):
        GatysLoss(
            net, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), GatysSettings(style_layers=("conv6_1",))
        )


def _save(tmp_path: Path, name: str, pixels: np.ndarray, mode: str) -> Path:
    path = tmp_path / name
    Image.fromarray(pixels, mode).save(path)
    return path


def test_style_images_grey_rgba_far_larger_and_missing(tmp_path):
    rng = np.random.default_rng(0)
    grey = _save(tmp_path, "grey.png", rng.integers(0, 256, (12, 10), dtype=np.uint8), "L")
    with pytest.warns(GeneditWarning, match=r"grey.png: grey, so the result takes its texture but no colour"):
        assert read_style(grey).shape == (1, 3, 12, 10)
    rgba = _save(tmp_path, "rgba.png", rng.integers(0, 256, (12, 10, 4), dtype=np.uint8), "RGBA")
    with pytest.warns(GeneditWarning, match=r"rgba.png: its alpha channel is ignored"):
        assert read_style(rgba).shape == (1, 3, 12, 10)
    big = _save(tmp_path, "big.png", rng.integers(0, 256, (90, 90, 3), dtype=np.uint8), "RGB")
    with pytest.warns(GeneditWarning, match=r"big.png: 90×90 is over 64× the content image's pixels"):
        read_style(big, content_pixels=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_style(big, content_pixels=200)  # 40×: fine
        read_style(None, content_pixels=4)  # the bundled painting never warns
    with pytest.raises(ImageError, match=r"nope.png: no such file"):
        read_style(tmp_path / "nope.png")


def test_genedit_run_shows_each_step_with_its_losses(tmp_path):
    # through the batch API, as `genedit run` and `genedit serve` call it: the image's callback
    # (BatchProgress.image) sees every L-BFGS step; one that takes `values` gets the losses too
    from genedit_core.sdk import BatchProgress, run_batch

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 18, 3), dtype=np.uint8)).save(photo)
    steps: list[tuple[int, int, dict | None]] = []
    fractions: list[tuple[int, int]] = []

    class Bar(BatchProgress):  # genedit run's kind: shows the losses
        def image(self, src):
            return lambda done, total, values=None: steps.append((done, total, values))

    class Job(BatchProgress):  # genedit serve's kind: a fraction done, no values
        def image(self, src):
            return lambda done, total: fractions.append((done, total))

    weights = tmp_path / "tiny.safetensors"
    save_file(tiny_vgg16_hed(), str(weights))
    options = {"steps": "3", "size": "0"}
    with plugins_installed(style=genedit_style.plugin):
        model = load("gatys", weights=str(weights), device="cpu", dtype="fp32")
        run_batch("stylize", [photo], model=model, out_dir=tmp_path / "a", options=options, progress=Bar())
        run_batch("stylize", [photo], model=model, out_dir=tmp_path / "b", options=options, progress=Job())
    assert [(d, t) for d, t, _ in steps] == [(1, 3), (2, 3), (3, 3)] == fractions
    assert all(set(v) == {"content", "style", "tv", "total"} for _, _, v in steps)
    assert steps[0][2]["content"] == 0.0  # the first step is the photo itself
    assert steps[-1][2]["style"] < steps[0][2]["style"]


def test_lbfgs_history_is_bounded_in_bytes_at_large_sizes():
    from genedit_style.gatys import LBFGS_HISTORY_BYTES, lbfgs_history

    assert lbfgs_history(3 * 512 * 512) == 50  # the measured 512² runs keep the full history
    big = lbfgs_history(3 * 1024 * 1024)
    assert 5 <= big < 50 and 2 * big * 3 * 1024 * 1024 * 4 <= LBFGS_HISTORY_BYTES
    assert lbfgs_history(3 * 8192 * 8192) == 5
