"""An edit hook's own steps (``EditRequest.progress``): they reach the front end's per-image
callback, with named values (losses) only for a callback that takes them, and ``genedit run``'s
bar shows them. Why: one Gatys image is minutes of optimisation inside one hook call; without
this the bar sits at 0/1 and says nothing of how it is going."""

from __future__ import annotations

import io

from inline_plugin import CardsPlugin, passthrough_model
from PIL import Image

import genedit_core
from genedit_core import hookimpl
from genedit_core.batch import BatchProgress
from genedit_core.cards import ModelCard
from genedit_core.progress import silent_steps, step_progress


def test_values_go_only_to_a_callback_that_takes_them():
    seen: list[tuple] = []
    with_values = step_progress(lambda done, total, values=None: seen.append((done, total, values)))
    with_values(1, 3, {"loss": 0.5})
    with_values(2, 3)
    tiles_only = step_progress(lambda done, total: seen.append((done, total)))
    tiles_only(3, 3, {"loss": 0.25})  # a front end written for tiles: the values are left out
    keywords = step_progress(lambda done, total, **kw: seen.append((done, total, kw)))
    keywords(4, 4, {"loss": 0.125})
    assert seen == [(1, 3, {"loss": 0.5}), (2, 3, None), (3, 3), (4, 4, {"values": {"loss": 0.125}})]
    assert step_progress(None) is silent_steps


class StepsPlugin(CardsPlugin):
    """A 'stylize' card whose edit hook reports three steps with a loss, then returns its input."""

    def __init__(self) -> None:
        card = ModelCard(
            name="stepper", tasks=("stylize",), family="toy", summary="reports steps", needs_weights=False
        )
        super().__init__(card, name="stepper")

    @hookimpl
    def load_model(self, request):
        return passthrough_model(request)

    @hookimpl
    def edit(self, request):
        for step in range(1, 4):
            request.progress(step, 3, {"loss": 1.0 / step})
        return request.image


def test_run_batch_hands_the_steps_to_the_images_callback(install, tmp_path):
    install(StepsPlugin())
    photo = tmp_path / "a.png"
    Image.new("RGB", (6, 4), (10, 20, 30)).save(photo)
    seen: list[tuple] = []

    class Recorder(BatchProgress):
        def image(self, src):
            return lambda done, total, values=None: seen.append((src.name, done, total, values))

    genedit_core.run_batch("stylize", [photo], model="stepper", out_dir=tmp_path / "out", progress=Recorder())
    assert seen == [
        ("a.png", 1, 3, {"loss": 1.0}),
        ("a.png", 2, 3, {"loss": 0.5}),
        ("a.png", 3, 3, {"loss": 1 / 3}),
    ]


def test_the_image_bar_shows_the_step_and_its_values():
    from genedit_cli.running import _progress, image_bar, tile_callback
    from rich.console import Console

    console = Console(file=io.StringIO(), width=120, color_system=None)
    progress, _ = _progress(False, 1, console=console, get_time=lambda: 0.0)
    on_image = tile_callback(progress, image_bar(progress, "a.png"))
    on_image(12, 300, {"content": 0.3124, "style": 0.01234, "smooth": 0.05})
    record = Console(record=True, width=120, file=io.StringIO(), color_system=None)
    record.print(progress.get_renderable())
    line = next(x for x in record.export_text().splitlines() if "a.png" in x)
    assert "12/300" in line and "content 0.3124" in line and "style 0.01234" in line and "smooth 0.05" in line
