"""``genedit run`` outputs: where they go, that a second run never eats the first run's outputs,
errors that name the real cause, one report line per output as it is written, a bad plugin option
stopping the batch once, and per-image progress with a known total and a time estimate."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.errors import UsageError
from genedit_core.images import ImageData, read_provenance, write_image, written_by_genedit
from genedit_core.options import Option


def png(path: Path, size: tuple[int, int] = (6, 4), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


class Painter:
    """A weight-free test plugin: ``samples`` returns ``--samples N`` images (N must be a number),
    and ``on_edit`` lets a test look at the world while the batch is running."""

    name = "painter"

    def __init__(self) -> None:
        self.calls = 0
        self.on_edit = None

    @hookimpl
    def register_models(self, register):
        register(
            ModelCard(
                name="painter",
                tasks=("samples",),
                family="test",
                summary="Returns the input, N times (tests only).",
                needs_weights=False,
                # a str on purpose: the plugin's own check of the value is what these tests exercise
                options={"samples": (Option("samples", str, "1", "how many images"),)},
            )
        )

    @hookimpl
    def load_model(self, request):
        if request.card.plugin != self.name:
            return None
        import torch

        from genedit_core.model import LoadedModel

        return LoadedModel(
            card=request.card,
            module=None,
            forward=lambda x: x,
            device=request.device,
            dtype=torch.float32,
            receptive_field=0,
        )

    @hookimpl
    def edit(self, request):
        if request.card.plugin != self.name:
            return None
        self.calls += 1
        raw = request.params.get("samples", "1")
        try:
            n = int(raw)
        except ValueError:
            raise UsageError(f"--samples {raw}: expected a whole number") from None
        if self.on_edit is not None:
            self.on_edit(self.calls)
        y = request.tiler(request.model, request.image)
        return [y * (1 - 0.1 * i) for i in range(n)] if n > 1 else y


@pytest.fixture
def sr(install):
    return install(sr=True)


@pytest.fixture
def painter(install):
    plugin = Painter()
    install(plugin)
    return plugin


# --- where outputs go, and a second run -------------------------------------------------------


def test_outputs_go_to_results_and_a_second_run_takes_only_the_inputs(sr, cli, tmp_path):
    png(tmp_path / "snow" / "a.png")
    for _ in range(2):
        result = cli("run", "upscale", "-m", "bicubic", "snow", "-q", "--skip-existing")
        assert result.code == 0, result
    assert names(tmp_path / "snow") == ["a.png"]  # the input folder is left alone
    assert names(tmp_path / "results") == ["a_bicubic_x2.png"]


def test_rescanning_a_folder_skips_genedit_outputs_with_a_note(sr, cli, tmp_path):
    """Outputs written into the input folder (--out-dir ., or older versions) are not inputs next time."""
    snow = tmp_path / "snow"
    png(snow / "a.png")
    Image.open(png(snow / "b.png", seed=1)).convert("RGB").save(snow / "b.jpg", quality=95)
    (snow / "b.png").unlink()
    first = cli("run", "upscale", "-m", "bicubic", str(snow), "--out-dir", str(snow))
    assert first.code == 0, first
    assert names(snow) == ["a.png", "a_bicubic_x2.png", "b.jpg", "b_bicubic_x2.jpg"]

    again = cli("run", "upscale", "-m", "bicubic", str(snow), "--out-dir", str(snow), "--skip-existing")

    assert again.code == 0, again
    notes = [line for line in again.err.splitlines() if line.startswith("note:")]
    assert notes == ["note: skipped 2 image(s) that genedit wrote (name a file to process it anyway)"]
    assert names(snow) == ["a.png", "a_bicubic_x2.png", "b.jpg", "b_bicubic_x2.jpg"]
    as_json = json.loads(cli("run", "upscale", "-m", "bicubic", str(snow), "--out-dir", "o", "--json").out)
    assert sorted(Path(p).name for p in as_json["skipped"]) == ["a_bicubic_x2.png", "b_bicubic_x2.jpg"]
    assert [Path(r["input"]).name for r in as_json["results"]] == ["a.png", "b.jpg"]


def test_a_results_folder_inside_the_input_folder_is_not_rescanned(sr, cli, tmp_path):
    png(tmp_path / "photos" / "a.png")
    for _ in range(2):
        result = cli("run", "upscale", "-m", "bicubic", ".", "--recursive", "-q", "--skip-existing")
        assert result.code == 0, result
    assert names(tmp_path / "results") == ["photos/a_bicubic_x2.png"]


def test_a_folder_of_genedit_outputs_only_is_a_usage_error_that_says_why(sr, cli, tmp_path):
    png(tmp_path / "a.png")
    assert cli("run", "upscale", "-m", "bicubic", "a.png", "-q").code == 0
    result = cli("run", "upscale", "-m", "bicubic", "results")
    assert result.code == 2
    assert result.error_lines == [
        "error: no input images found in: results "
        "(skipped 1 image(s) that genedit wrote; name a file to process it anyway)"
    ]
    named = cli("run", "upscale", "-m", "bicubic", "results/a_bicubic_x2.png", "-q")  # named: taken
    assert named.code == 0, named
    assert Image.open(tmp_path / "results" / "a_bicubic_x2_bicubic_x2.png").size == (24, 16)


def test_recursive_inputs_keep_their_sub_folders_apart(sr, cli, tmp_path):
    png(tmp_path / "in" / "x" / "a.png", seed=1)
    png(tmp_path / "in" / "y" / "a.png", seed=2)
    result = cli("run", "upscale", "-m", "bicubic", "in", "--recursive", "-q")
    assert result.code == 0, result
    assert names(tmp_path / "results") == ["x/a_bicubic_x2.png", "y/a_bicubic_x2.png"]


# --- errors that name the cause ------------------------------------------------------------------


def test_output_onto_another_input_names_that_input(sr, cli, tmp_path):
    snow = tmp_path / "snow"
    png(snow / "a.png")
    png(snow / "a_bicubic_x2.png", seed=3)  # not written by genedit: a real input
    before = (snow / "a_bicubic_x2.png").read_bytes()

    result = cli("run", "upscale", "-m", "bicubic", "snow", "--out-dir", "snow", "-q")

    assert result.code == 1
    assert result.error_lines == [
        "error: snow/a_bicubic_x2.png: output of snow/a.png would overwrite snow/a_bicubic_x2.png, "
        "another input of this run; choose another --out-dir or pass --overwrite"
    ]
    assert (snow / "a_bicubic_x2.png").read_bytes() == before
    assert (snow / "a_bicubic_x2_bicubic_x2.png").is_file()  # the other input still ran


def test_two_inputs_with_one_name_are_refused_before_any_work(sr, cli, tmp_path):
    png(tmp_path / "x" / "a.png", seed=1)
    png(tmp_path / "y" / "a.png", seed=2)
    result = cli("run", "upscale", "-m", "bicubic", "x/a.png", "y/a.png", "-q")
    assert result.code == 2
    assert result.error_lines == [
        "error: inputs would write the same output file: x/a.png and y/a.png. Nothing was done; "
        "rename one, or run them with separate --out-dir folders"
    ]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", "16.tif", "16.png"])
def test_provenance_is_stored_and_recognised_in_every_format_that_has_room(tmp_path, suffix):
    depth = 16 if suffix.startswith("16") else 8
    path = tmp_path / f"out{suffix.removeprefix('16')}"
    prov = {"genedit": "0.1", "model": "m", "input": "é.png"}
    write_image(path, ImageData(np.full((4, 4, 3), 0.5, np.float32), bit_depth=depth), provenance=prov)
    assert read_provenance(path) == prov
    assert written_by_genedit(path)


def test_other_software_descriptions_are_not_genedit_provenance(tmp_path):
    for text in ("holiday in the snow", '{"camera": "x"}', "{not json"):
        exif = Image.Exif()
        exif[0x010E] = text
        path = tmp_path / "photo.jpg"
        Image.new("RGB", (4, 4)).save(path, exif=exif.tobytes())
        assert read_provenance(path) is None and not written_by_genedit(path)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n nonsense")
    assert not written_by_genedit(tmp_path / "broken.png")  # reported later as a bad input


# --- a bad plugin option stops the batch once ---------------------------------------------------


def test_a_plugin_usage_error_stops_the_batch_with_exit_2_and_one_line(painter, cli, tmp_path):
    for i in range(3):
        png(tmp_path / "in" / f"{i}.png", seed=i)
    result = cli("run", "samples", "-m", "painter", "in", "--samples", "lots")
    assert result.code == 2
    assert result.error_lines == ["error: --samples lots: expected a whole number"]
    assert painter.calls == 1
    assert not (tmp_path / "results").exists()


# --- each output reported, as soon as it is written -------------------------------------------------


def test_every_output_of_an_input_is_reported_and_a_scale_free_task_has_no_x1(painter, cli, tmp_path):
    png(tmp_path / "a.png")
    result = cli("run", "samples", "-m", "painter", "a.png", "--samples", "4")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert [line.split("  (")[0] for line in lines] == [
        f"a.png -> results/a_painter_samples_{i:03d}.png" for i in range(4)
    ]
    assert [line.split("  (")[1].split(",")[0] for line in lines] == [f"{i} of 4" for i in range(1, 5)]
    assert names(tmp_path / "results") == [f"a_painter_samples_{i:03d}.png" for i in range(4)]
    summary = result.err.splitlines()[-1]
    assert summary.startswith("1 of 1 image(s) done with painter on cpu"), summary
    assert " x1" not in result.err


def test_the_summary_names_the_scale_of_a_task_that_scales(sr, cli, tmp_path):
    png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "bicubic", "a.png")
    assert result.code == 0, result
    assert result.out.splitlines()[0].startswith("a.png -> results/a_bicubic_x2.png  (")
    assert "1 of 1 image(s) done with bicubic x2 on cpu" in result.err


def test_each_result_line_is_printed_when_its_file_is_done(painter, cli, capsys, tmp_path):
    for i in range(3):
        png(tmp_path / "in" / f"{i}.png", seed=i)
    seen: dict[int, str] = {}
    painter.on_edit = lambda call: seen.setdefault(call, capsys.readouterr().out)

    result = cli("run", "samples", "-m", "painter", "in")

    assert result.code == 0, result
    assert seen[1] == ""
    assert seen[2].startswith("in/0.png -> results/0_painter_samples.png  (") and seen[2].count("\n") == 1
    assert seen[3].startswith("in/1.png -> results/1_painter_samples.png  (")
    assert result.out.startswith("in/2.png -> results/2_painter_samples.png  (")


# --- progress -----------------------------------------------------------------------------------


def _render(progress) -> str:
    from rich.console import Console

    console = Console(record=True, width=100, file=io.StringIO(), color_system=None)
    console.print(progress.get_renderable())
    return console.export_text()


def test_an_image_bar_knows_its_total_and_estimates_the_time_left():
    from genedit_cli.running import _progress, image_bar, tile_callback
    from rich.console import Console

    now = [0.0]
    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress, _ = _progress(False, 3, console=console, get_time=lambda: now[0])
    on_tile = tile_callback(progress, image_bar(progress, "a.png"))
    assert "?" not in _render(progress)

    on_tile(0, 4)  # what the tiler reports before its first tile
    assert "0/4" in _render(progress) and "?" not in _render(progress)
    now[0] = 2.0
    on_tile(1, 4)
    image_line = next(line for line in _render(progress).splitlines() if "a.png" in line)
    assert "1/4" in image_line and image_line.rstrip().endswith("eta 0:00:06")
