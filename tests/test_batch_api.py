"""The core batch API (``genedit_core.run_batch``) and per-task model options, on toy plugins only.

Why: ``genedit run`` is a front end over ``genedit_core.batch.run_batch``, so a Python user batches
a folder with the same inputs, output names, provenance, checks and per-file report. The model's
own options are declared on its card per task; the function, the command and their help all read
that one declaration, and anything undeclared is refused before a model loads.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from toy_plugin import ResizePlugin, resize_card

import genedit_core
from genedit_core import hookimpl
from genedit_core.batch import BatchProgress
from genedit_core.errors import UsageError
from genedit_core.images import read_provenance
from genedit_core.options import Option

GAIN = Option("gain", float, 1.0, "multiply the output by this", low=0.0, high=1.0)


class GainPlugin(ResizePlugin):
    """Nearest x2 (``resize`` card) whose ``upscale`` takes ``--gain``; ``blend`` averages all its
    inputs at once (a group task). Counts loads, so a test can tell that nothing was loaded."""

    def __init__(self) -> None:
        card = replace(
            resize_card("gainy", scales=(2,)),
            tasks=("upscale", "blend"),
            group_tasks=("blend",),
            options={"upscale": (GAIN,)},
        )
        super().__init__(card, name="gainy", mode="nearest")
        self.loads = 0
        self.seen: list[dict] = []

    @hookimpl
    def load_model(self, request):
        self.loads += 1
        return super().load_model(request)

    @hookimpl
    def edit(self, request):
        self.seen.append(dict(request.params))
        if request.task == "blend":
            import torch

            return torch.stack([x[0] for x in request.images]).mean(0)
        return request.tiler(request.model, request.image) * request.params.get("gain", 1.0)


@pytest.fixture
def gainy(install) -> GainPlugin:
    plugin = GainPlugin()
    install(plugin)
    return plugin


def png(path: Path, value: int = 200, size: tuple[int, int] = (5, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_folders_globs_and_files_in_named_outputs_with_provenance_out(gainy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    png(tmp_path / "in" / "a.png")
    png(tmp_path / "in" / "b.png", 100)
    png(tmp_path / "more" / "c.png", 50)
    png(tmp_path / "d.png", 20)

    report = genedit_core.run_batch("upscale", ["in", "more/*.png", "d.png"], model="gainy", gain=0.5)

    assert [r.status for r in report.results] == ["ok"] * 4 and report.ok and gainy.loads == 1
    assert [p.name for p in report.outputs] == [f"{s}_gainy_x2.png" for s in "abcd"]
    assert all(p.parent == Path("results") for p in report.outputs)  # the default folder
    assert pixels(Path("results/a_gainy_x2.png")).shape == (8, 10, 3)
    assert pixels(Path("results/a_gainy_x2.png")).max() == 100  # 200 × gain 0.5
    assert gainy.seen[0] == {"gain": 0.5}  # typed, as declared
    prov = read_provenance(Path("results/b_gainy_x2.png"))
    assert prov["model"] == "gainy" and prov["task"] == "upscale" and prov["input"] == "b.png"
    assert prov["params"] == {"gain": 0.5}
    data = report.to_dict()
    assert data["failed"] == 0 and data["model"] == "gainy" and data["results"][0]["size"] == [10, 8]


def test_a_rerun_into_the_input_folder_leaves_genedits_outputs_out(gainy, tmp_path):
    png(tmp_path / "in" / "a.png")
    first = genedit_core.run_batch("upscale", tmp_path / "in", model="gainy", out_dir=tmp_path / "in")
    second = genedit_core.run_batch(
        "upscale", [tmp_path / "in"], model="gainy", out_dir=tmp_path / "in", skip_existing=True
    )
    assert first.ok and [r.status for r in second.results] == ["skipped"]
    assert [p.name for p in second.skipped_inputs] == ["a_gainy_x2.png"]


def test_existing_outputs_are_kept_skipped_or_replaced_as_asked(gainy, tmp_path):
    src = png(tmp_path / "a.png")
    out = tmp_path / "out"
    genedit_core.run_batch("upscale", [src], model="gainy", out_dir=out, gain=0.5)
    kept = genedit_core.run_batch("upscale", [src], model="gainy", out_dir=out)
    assert [r.status for r in kept.results] == ["failed"] and not kept.ok
    assert kept.failed[0].error == f"{out / 'a_gainy_x2.png'}: exists (use --overwrite or --skip-existing)"
    assert pixels(out / "a_gainy_x2.png").max() == 100  # unchanged
    skipped = genedit_core.run_batch("upscale", [src], model="gainy", out_dir=out, skip_existing=True)
    assert [r.status for r in skipped.results] == ["skipped"] and skipped.ok
    replaced = genedit_core.run_batch("upscale", [src], model="gainy", out_dir=out, overwrite=True)
    assert replaced.ok and pixels(out / "a_gainy_x2.png").max() == 200
    with pytest.raises(UsageError, match="contradict"):
        genedit_core.run_batch(
            "upscale", [src], model="gainy", out_dir=out, overwrite=True, skip_existing=True
        )


def test_one_bad_file_is_one_line_and_the_others_are_written(gainy, tmp_path):
    good = png(tmp_path / "in" / "a.png")
    (tmp_path / "in" / "b.png").write_bytes(b"not a png")
    report = genedit_core.run_batch("upscale", [tmp_path / "in", good.parent / "c.png"], model="gainy",
                                    out_dir=tmp_path / "out")  # fmt: skip
    assert [r.status for r in report.results] == ["ok", "failed", "failed"]
    bad, missing = report.failed
    assert bad.error.startswith(str(tmp_path / "in" / "b.png")) and "\n" not in bad.error
    assert missing.error.startswith(str(tmp_path / "in" / "c.png")) and bad.exception is not None
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_gainy_x2.png"]  # nothing partial
    assert report.to_dict()["failed"] == 2


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"gian": 0.5},
            "model 'gainy' (upscale): unknown option --gian; did you mean --gain? (valid options: --gain)",
        ),
        ({"gain": "lots"}, "--gain lots: expected a number"),
        ({"gain": 2}, "--gain 2: expected a value from 0 to 1"),
    ],
)
def test_a_bad_option_is_refused_before_any_load(gainy, tmp_path, options, message):
    src = png(tmp_path / "a.png")
    with pytest.raises(UsageError) as refused:
        genedit_core.run_batch("upscale", [src], model="gainy", out_dir=tmp_path / "out", **options)
    assert str(refused.value) == message
    assert gainy.loads == 0 and not (tmp_path / "out").exists()


def test_a_task_without_options_takes_none(gainy, tmp_path):
    with pytest.raises(
        UsageError, match=r"model 'gainy' \(blend\): unknown option --gain \(valid options: none\)"
    ):
        genedit_core.run_batch("blend", [png(tmp_path / "a.png")], model="gainy", gain=0.5)


def test_progress_is_told_each_step_and_a_loaded_model_is_reused(gainy, tmp_path):
    events: list[str] = []

    class Recorder(BatchProgress):
        def planned(self, inputs):
            events.append(f"planned {len(inputs.files)}")

        def start(self, total, model):
            events.append(f"start {total}")

        def image(self, src):
            events.append(f"image {src.name}")
            return lambda done, total: events.append(f"tile {done}/{total}")

        def file_done(self, result):
            events.append(f"done {result.input.name} {result.status}")

        def finish(self):
            events.append("finish")

    model = genedit_core.load("gainy", device="cpu")
    files = [png(tmp_path / "a.png"), png(tmp_path / "b.png")]
    genedit_core.run_batch(
        "upscale", files, model=model, out_dir=tmp_path / "out", progress=Recorder(), tile=0
    )
    assert gainy.loads == 1  # the one above
    assert [e for e in events if not e.startswith("tile")] == [
        "planned 2", "start 2", "image a.png", "done a.png ok", "image b.png", "done b.png ok", "finish",
    ]  # fmt: skip


def test_a_group_task_takes_every_input_at_once(gainy, tmp_path):
    a, b = png(tmp_path / "a.png", 100), png(tmp_path / "b.png", 200)
    report = genedit_core.run_batch("blend", [a, b], model="gainy", out_dir=tmp_path / "out")
    assert report.group and len(report.results) == 1 and report.results[0].inputs == [a, b]
    assert report.outputs == [tmp_path / "out" / "a_gainy_blend.png"]
    assert pixels(report.outputs[0]).max() == 150
    again = genedit_core.run_batch(
        "blend", [a, b], model="gainy", out_dir=tmp_path / "out", skip_existing=True
    )
    assert [r.status for r in again.results] == ["skipped"]


# -- the command line reads the same declaration --------------------------------------------------------


def test_run_help_and_info_list_the_models_options(gainy, cli):
    shown = cli("run", "upscale", "-m", "gainy", "--help")
    assert shown.code == 0 and "Options of gainy for upscale:" in shown.out
    assert "--gain FLOAT  multiply the output by this (0 to 1; default 1.0)" in shown.out
    assert (
        "gainy takes no options of its own for blend."
        in cli("run", "blend", "--model", "gainy", "--help").out
    )
    info = cli("info", "gainy")
    assert "options for upscale:" in info.out and "--gain FLOAT" in info.out


def test_run_refuses_a_misspelt_option_before_loading(gainy, cli, tmp_path):
    png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "gainy", "a.png", "--gian", "0.5")
    assert result.code == 2 and gainy.loads == 0 and not (tmp_path / "results").exists()
    assert result.error_lines == [
        "error: model 'gainy' (upscale): unknown option --gian; did you mean --gain? (valid options: --gain)"
    ]
    assert cli("run", "upscale", "-m", "gainy", "a.png", "--gain", "0.5", "-q").code == 0
    assert pixels(tmp_path / "results" / "a_gainy_x2.png").max() == 100


def test_run_shows_a_group_result_once(gainy, cli, tmp_path):
    png(tmp_path / "a.png", 100), png(tmp_path / "b.png", 200)
    result = cli("run", "blend", "-m", "gainy", "a.png", "b.png")
    assert result.code == 0 and result.out.splitlines() == ["a.png, b.png -> results/a_gainy_blend.png"]


def test_a_models_own_provenance_marks_reach_every_output_and_never_replace_genedits(install, tmp_path):
    """``LoadedModel.provenance`` (a face swap's "synthetic" mark) is recorded beside genedit's fields."""

    class Marking(GainPlugin):
        @hookimpl
        def load_model(self, request):
            loaded = super().load_model(request)
            loaded.provenance = {"synthetic": True, "run": "runs/ab", "model": "forged"}
            return loaded

    install(Marking())
    report = genedit_core.run_batch("upscale", png(tmp_path / "a.png"), model="gainy", out_dir=tmp_path / "o")
    prov = read_provenance(report.outputs[0])
    assert prov["synthetic"] is True and prov["run"] == "runs/ab"
    assert prov["model"] == "gainy"  # genedit's own field wins
