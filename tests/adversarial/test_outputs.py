"""Output locations that cannot be written, existing outputs, and outputs that would collide.

Each attack is built at test time. Tests run as root, which ignores permission bits, so the causes
are ones that fail for root too: a file where a folder should be (ENOTDIR/EEXIST), a folder where
the output file should be (EISDIR), a name longer than the file system allows (ENAMETOOLONG), and
a read-only file system simulated at the one system call that meets it (EROFS). Every case must
give: the exit code, exactly one error line per bad file naming it and the cause, no traceback,
no partial or temporary file, unchanged inputs, and the other files of the batch done.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from inline_plugin import CardsPlugin, passthrough_model
from PIL import Image
from toy_plugin import ResizePlugin

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.errors import ImageError, OutputExistsError
from genedit_core.images import ImageData, atomic_output, write_image

HINT = "exists (use --overwrite or --skip-existing)"


def png(path: Path, seed: int = 0, size: tuple[int, int] = (6, 4)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.name.endswith(".part")]


def assert_clean(result, n_errors: int) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, result
    assert len(result.error_lines) == n_errors, result


class TinyTrainer(CardsPlugin):
    """``tiny``: a trainable card (the trainer tests' TinyTask), for where ``train`` puts its run."""

    @hookimpl
    def train(self, request):
        from _tiny_task import TinyTask

        return TinyTask()


@pytest.fixture
def toys(install):
    """``resize`` (a toy bicubic upscaler, weightless) and the trainable ``tiny``."""
    tiny = ModelCard(
        name="tiny", tasks=("upscale",), family="toy", summary="trainable toy", needs_weights=False
    )
    return install(ResizePlugin(), TinyTrainer(tiny))


# --- locations that cannot be written ---------------------------------------------------------------


@pytest.mark.parametrize("out_dir", ["afile", "afile/sub"])
def test_an_out_dir_that_is_a_file_or_lies_under_one_fails_each_file_in_one_line(
    toys, cli, tmp_path, out_dir
):
    for i in range(2):
        png(tmp_path / "in" / f"{i}.png", seed=i)
    (tmp_path / "afile").write_text("not a folder")
    before = snapshot(tmp_path / "in")

    result = cli("run", "upscale", "-m", "resize", "in", "--out-dir", out_dir)

    assert result.code == 1
    assert_clean(result, 2)
    assert result.error_lines == [
        f"error: {out_dir}/{i}_resize_x2.png: cannot write: afile is a file, not a folder" for i in range(2)
    ]
    assert (tmp_path / "afile").read_text() == "not a folder"
    assert snapshot(tmp_path / "in") == before
    assert not temporaries(tmp_path)


def test_bad_outputs_in_a_batch_cost_only_their_own_files(toys, cli, tmp_path):
    """EISDIR (a folder has the output's name) and ENAMETOOLONG, next to good files."""
    long_stem = "n" * 245  # fits as an input name; with "_resize_x2.png" it is over 255 bytes
    png(tmp_path / "in" / "a.png", seed=1)
    png(tmp_path / "in" / f"{long_stem}.png", seed=2)
    png(tmp_path / "in" / "c.png", seed=3)
    png(tmp_path / "in" / "d.png", seed=4)
    (tmp_path / "results" / "c_resize_x2.png").mkdir(parents=True)
    before = snapshot(tmp_path / "in")

    result = cli("run", "upscale", "-m", "resize", "in")

    assert result.code == 1
    assert_clean(result, 2)
    assert sorted(result.error_lines) == sorted(
        [
            f"error: results/{long_stem}_resize_x2.png: cannot write (File name too long)",
            "error: results/c_resize_x2.png: cannot write (a folder has this name)",
        ]
    )
    assert Image.open(tmp_path / "results" / "a_resize_x2.png").size == (12, 8)
    assert Image.open(tmp_path / "results" / "d_resize_x2.png").size == (12, 8)  # after the bad ones
    assert (tmp_path / "results" / "c_resize_x2.png").is_dir()
    assert "2 of 4 image(s) done" in result.err and "2 failed" in result.err
    assert snapshot(tmp_path / "in") == before
    assert not temporaries(tmp_path)


def test_a_read_only_file_system_is_one_line_per_file(toys, cli, tmp_path, monkeypatch):
    """EROFS where a read-only mount raises it: creating the temporary file in the output folder."""
    import tempfile

    for i in range(2):
        png(tmp_path / "in" / f"{i}.png", seed=i)
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        if Path(kwargs.get("dir", ".")).name == "ro":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(kwargs["dir"]))
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    result = cli("run", "upscale", "-m", "resize", "in", "--out-dir", "ro")

    assert result.code == 1
    assert_clean(result, 2)
    assert result.error_lines == [
        f"error: ro/{i}_resize_x2.png: cannot write (Read-only file system)" for i in range(2)
    ]


def test_the_writer_turns_every_os_error_into_one_image_error_naming_the_output(tmp_path):
    image = ImageData(np.full((4, 4, 3), 0.5, np.float32))
    (tmp_path / "f").write_text("x")
    with pytest.raises(ImageError, match=r"f/g/out\.png: cannot write: .*f is a file, not a folder$"):
        write_image(tmp_path / "f" / "g" / "out.png", image)
    disk_full = pytest.raises(ImageError, match=r"out\.png: cannot write \(disk full\)$")
    with disk_full, atomic_output(tmp_path / "out.png") as tmp:
        tmp.write_bytes(b"half an image")
        raise OSError(errno.ENOSPC, "disk full")
    with pytest.raises(KeyboardInterrupt), atomic_output(tmp_path / "out.png"):
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no output, no temporary file


def test_train_out_that_cannot_be_a_folder_is_one_line_before_training(toys, cli, tmp_path):
    (tmp_path / "runs").write_text("a file")
    result = cli("train", "tiny", "--data", "builtin:digits", "--out", "runs/tiny", "--set", "train.steps=1")
    assert result.code == 1
    assert_clean(result, 1)
    assert result.error_lines == ["error: runs/tiny: cannot write: runs is a file, not a folder"]


# --- existing outputs -------------------------------------------------------------------------------


def test_an_existing_output_is_kept_unless_overwrite(toys, cli, tmp_path):
    for name in ("a", "b", "c"):
        png(tmp_path / "in" / f"{name}.png", seed=ord(name))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "b_resize_x2.png").write_bytes(b"precious")

    result = cli("run", "upscale", "-m", "resize", "in")

    assert result.code == 1
    assert_clean(result, 1)
    assert result.error_lines == [f"error: results/b_resize_x2.png: {HINT}"]
    assert (tmp_path / "results" / "b_resize_x2.png").read_bytes() == b"precious"
    assert (tmp_path / "results" / "c_resize_x2.png").is_file()  # the batch went on

    again = cli("run", "upscale", "-m", "resize", "in", "--overwrite", "-q")
    assert again.code == 0, again
    assert Image.open(tmp_path / "results" / "b_resize_x2.png").size == (12, 8)


def test_skip_existing_does_only_what_is_missing(toys, cli, tmp_path):
    for name in ("a", "b", "c"):
        png(tmp_path / "in" / f"{name}.png", seed=ord(name))
    first = cli("run", "upscale", "-m", "resize", "in/a.png", "in/b.png", "-q")
    assert first.code == 0, first
    kept = snapshot(tmp_path / "results")
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "results").iterdir()}

    result = cli("run", "upscale", "-m", "resize", "in", "--skip-existing", "--json")

    assert result.code == 0, result
    report = json.loads(result.out)
    assert [r["status"] for r in report["results"]] == ["skipped", "skipped", "ok"]
    assert report["skipped_existing"] == 2 and report["failed"] == 0
    assert {k: v for k, v in snapshot(tmp_path / "results").items() if k in kept} == kept
    assert all((tmp_path / "results" / n).stat().st_mtime_ns == t for n, t in stamps.items())
    assert (tmp_path / "results" / "c_resize_x2.png").is_file()
    text = cli("run", "upscale", "-m", "resize", "in", "--skip-existing")
    assert text.code == 0 and "0 of 3 image(s) done" in text.err and "3 skipped (output exists)" in text.err


def test_overwrite_and_skip_existing_together_are_a_usage_error(toys, cli, tmp_path):
    png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "resize", "a.png", "--overwrite", "--skip-existing")
    assert result.code == 2
    assert result.error_lines == ["error: --overwrite and --skip-existing contradict each other; pass one"]


def test_an_output_that_appears_while_the_model_runs_is_kept(tmp_path):
    """The existence check at the end is the file system's own (a hard link), not a look beforehand."""
    target = tmp_path / "out.png"
    with pytest.raises(OutputExistsError), atomic_output(target, exist_ok=False) as tmp:
        tmp.write_bytes(b"new")
        target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


# --- collisions -------------------------------------------------------------------------------------


def test_inputs_that_would_write_one_output_are_refused_before_any_work(toys, cli, tmp_path):
    png(tmp_path / "p.png", seed=1)
    Image.open(png(tmp_path / "q.png", seed=2)).save(tmp_path / "p.jpg")
    png(tmp_path / "x" / "a.png", seed=3)
    png(tmp_path / "y" / "a.png", seed=4)

    result = cli("run", "upscale", "-m", "resize", "p.png", "p.jpg", "x/a.png", "y/a.png", "--ext", "png")

    assert result.code == 2
    assert_clean(result, 1)
    assert result.error_lines == [
        "error: inputs would write the same output file: p.png and p.jpg; x/a.png and y/a.png. "
        "Nothing was done; rename one, or run them with separate --out-dir folders"
    ]
    assert not (tmp_path / "results").exists()


def test_recursive_inputs_with_one_name_keep_their_folders_apart(toys, cli, tmp_path):
    png(tmp_path / "in" / "a" / "x.png", seed=1)
    png(tmp_path / "in" / "b" / "x.png", seed=2)
    result = cli("run", "upscale", "-m", "resize", "in", "--recursive", "-q")
    assert result.code == 0, result
    assert sorted(snapshot(tmp_path / "results")) == ["a/x_resize_x2.png", "b/x_resize_x2.png"]


# --- generate ---------------------------------------------------------------------------------------


class Dots(CardsPlugin):
    """A weight-free generator: seed s gives a flat image of grey level s/100; it counts what it samples."""

    def __init__(self) -> None:
        super().__init__(
            ModelCard(name="dots", tasks=("generate",), family="test", summary="dots", needs_weights=False)
        )
        self.sampled: list[list[int]] = []

    @hookimpl
    def load_model(self, request):
        return passthrough_model(request)

    @hookimpl
    def generate(self, request):
        import torch

        self.sampled.append(list(request.seeds))
        return torch.stack([torch.full((3, 4, 4), s / 100) for s in request.seeds])


@pytest.fixture
def dots(install):
    plugin = Dots()
    install(plugin)
    return plugin


def test_generate_keeps_existing_files_and_skip_existing_samples_only_the_missing(dots, cli, tmp_path):
    out = tmp_path / "generated" / "dots"
    assert cli("generate", "dots", "--seeds", "1-2").code == 0
    precious = png(out / "seed0002.png", seed=7, size=(4, 4)).read_bytes()  # e.g. edited by hand

    result = cli("generate", "dots", "--seeds", "1-3")
    assert result.code == 1
    assert_clean(result, 2)
    assert sorted(result.error_lines) == [
        f"error: generated/dots/seed0001.png: {HINT}",
        f"error: generated/dots/seed0002.png: {HINT}",
    ]
    assert (out / "seed0002.png").read_bytes() == precious and (out / "seed0003.png").is_file()

    rerun = cli("generate", "dots", "--seeds", "1-4", "--skip-existing", "--grid")
    assert rerun.code == 0, rerun
    assert dots.sampled[-1] == [4]  # seeds 1-3 were kept, not sampled again
    assert (out / "grid.png").is_file() and (out / "seed0004.png").is_file()

    nothing = cli("generate", "dots", "--seeds", "1-4", "--skip-existing")
    assert nothing.code == 0 and len(dots.sampled) == 3  # nothing missing: not even loaded
    assert cli("generate", "dots", "--seeds", "2", "--overwrite").code == 0
    assert Image.open(out / "seed0002.png").size == (4, 4)


def test_generate_into_a_folder_that_is_a_file_is_one_line(dots, cli, tmp_path):
    (tmp_path / "out").write_text("x")
    result = cli("generate", "dots", "--seeds", "1-3", "--out-dir", "out/d")
    assert result.code == 1
    assert_clean(result, 1)
    assert result.error_lines == ["error: out/d/seed0001.png: cannot write: out is a file, not a folder"]
    assert dots.sampled == []  # refused before sampling
