"""Text from users, files and plugins is printed as it is, never read as rich markup.

rich reads ``[...]`` as a style tag: ``[/x]`` with no open tag raises ``MarkupError`` inside the
printer (a traceback instead of the message), and ``pkg[onnx]`` loses ``[onnx]``. Each test puts
such text where genedit prints it (a path, a plugin's error hint, a warning, a card's summary and
variant, a progress description) and asserts the exact text comes out, with the exit code and no
traceback.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from inline_plugin import CardsPlugin, nearest_x2_model
from PIL import Image

from genedit_core import hookimpl
from genedit_core.api import GeneditWarning
from genedit_core.cards import ModelCard, WeightFile, WeightVariant
from genedit_core.errors import UsageError

# A closing tag with no opening one (MarkupError), a style tag that would vanish, and a real style.
HOSTILE = "[/x] pip install 'genedit-compress[onnx]' [bold]B[/bold] [red]"


class MarkupPlugin(CardsPlugin):
    """Model 'mk': a card full of brackets; ``edit`` warns or raises what the test sets."""

    def __init__(self, raise_usage: str | None = None, warn: str | None = None):
        variant = WeightVariant(
            name="v[/x]", files={2: WeightFile("w[bold].safetensors")}, package="nowhere", licence="[dim]"
        )
        super().__init__(
            ModelCard(
                name="mk",
                tasks=("upscale",),
                family="toy",
                summary=HOSTILE,
                scales=(2,),
                variants=(variant,),
                default_variant=variant.name,
                needs_weights=False,
                paper="https://example.org/[/p]",
            )
        )
        self.raise_usage, self.warn = raise_usage, warn

    @hookimpl
    def load_model(self, request):
        return nearest_x2_model(request)

    @hookimpl
    def edit(self, request):
        if self.warn is not None:
            warnings.warn(self.warn, GeneditWarning, stacklevel=2)
        if self.raise_usage is not None:
            raise UsageError(self.raise_usage)
        return request.tiler(request.model, request.image)


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 5, 3), 90, np.uint8)).save(path)
    return path


def _clean(result) -> None:
    assert "Traceback" not in result.err and "MarkupError" not in result.err, result


def test_card_text_is_shown_as_written(install, cli):
    install(MarkupPlugin())
    result = cli("info", "mk")
    _clean(result)
    assert result.code == 0, result
    assert HOSTILE in result.out.splitlines()
    assert "v[/x]" in result.out and "w[bold].safetensors" in result.out and "[dim]" in result.out
    assert "https://example.org/[/p]" in result.out
    wide = cli("list", "--wide", "mk")
    _clean(wide)
    assert wide.code == 0, wide
    for part in ("[/x]", "'genedit-compress[onnx]'", "[bold]B[/bold]", "v[/x]*"):  # cells may wrap
        assert part in wide.out, (part, wide.out)


def test_plugin_hint_keeps_its_brackets(install, cli, tmp_path):
    hint = "exporting needs the onnx extra: pip install 'genedit-compress[onnx]' [/x]"
    install(MarkupPlugin(raise_usage=hint))
    src = _png(tmp_path / "a.png")
    result = cli("run", "upscale", "-m", "mk", str(src), "--out-dir", str(tmp_path / "o"), "-q")
    _clean(result)
    assert result.code == 2, result
    assert result.error_lines == [f"error: {hint}"]


def test_own_hint_text_survives(cli):
    """The Hub-spec hint holds ``[/file][@revision]``: it once crashed the printer."""
    result = cli("run", "upscale", "-m", "bicubic", "--weights", "hf://", "x.png")
    _clean(result)
    assert result.code == 2
    assert result.error_lines == [
        "error: Bad Hub weights spec 'hf://': expected hf://owner/repo[/file][@revision]"
    ]


def test_paths_with_brackets(install, cli, tmp_path):
    install(MarkupPlugin())
    src = _png(tmp_path / "in[" / "x].png")  # the path reads '.../in[/x].png'
    out_dir = tmp_path / "out[" / "[bold]y]"
    before = src.read_bytes()
    result = cli("run", "upscale", "-m", "mk", str(src), "--out-dir", str(out_dir))
    _clean(result)
    assert result.code == 0, result
    (written,) = out_dir.iterdir()
    assert f"{src} -> {written}" in result.out
    assert src.read_bytes() == before
    missing = tmp_path / "in[" / "gone[/red].png"  # '[' makes it a pattern that matches nothing
    result = cli("run", "upscale", "-m", "mk", str(missing), "--out-dir", str(out_dir), "-q")
    _clean(result)
    assert result.code == 2
    assert result.error_lines == [f"error: {missing}: no file matches this pattern"]


def test_plugin_warning_keeps_its_brackets(install, cli, tmp_path):
    text = "weights [/x] look old; pip install 'genedit-sr[all]'"
    install(MarkupPlugin(warn=text))
    result = cli(
        "run", "upscale", "-m", "mk", str(_png(tmp_path / "a.png")), "--out-dir", str(tmp_path / "o")
    )
    _clean(result)
    assert result.code == 0, result
    assert f"warning: {text}" in result.err.splitlines()


def test_console_helpers_print_plain_text(capsys):
    from genedit_cli.console import fail, note, warn

    fail(HOSTILE)
    warn(HOSTILE)
    note(HOSTILE)
    assert capsys.readouterr().err.splitlines() == [
        f"{label}: {HOSTILE}" for label in ("error", "warning", "note")
    ]


@pytest.mark.parametrize("where", ["batch", "phase"])
def test_progress_descriptions_are_plain(monkeypatch, where):
    """File names in the batch bar and plugin phase names in optimize/bench progress."""
    from genedit_cli import console as console_mod
    from genedit_cli.running import _progress, image_bar
    from rich.console import Console

    buffer = io.StringIO()
    term = Console(file=buffer, force_terminal=True, width=200, color_system=None, markup=False)
    if where == "batch":
        progress, _ = _progress(False, 1, console=term)
        with progress:
            image_bar(progress, "[/x]a[bold].png")
            progress.refresh()
    else:
        monkeypatch.setattr(console_mod, "err", term)
        with console_mod.PhaseProgress("bench") as show:
            show("timing [/x] int8[onnx]", 1, 2)
    text = buffer.getvalue()
    assert ("[/x]a[bold].png" if where == "batch" else "timing [/x] int8[onnx]") in text


def test_control_characters_in_file_names_stay_on_one_line(install, cli, tmp_path):
    """A newline in a file name must not forge a second 'error:' line, nor ESC reach the terminal."""
    install(MarkupPlugin())
    forged = tmp_path / "nl\nerror: forged.png"
    forged.write_bytes(b"not an image")
    coloured = _png(tmp_path / "esc\x1b[31mred.png")
    out_dir = tmp_path / "o"
    result = cli("run", "upscale", "-m", "mk", str(forged), str(coloured), "--out-dir", str(out_dir))
    _clean(result)
    assert result.code == 1, result
    shown = str(forged).replace("\n", "\\n")
    assert result.error_lines == [
        f"error: {shown}: cannot read image (cannot identify image file {str(forged)!r})"
    ]
    assert "\x1b" not in result.out + result.err
    assert str(coloured).replace("\x1b", "\\x1b") + " -> " in result.out
    assert (out_dir / "esc\x1b[31mred_mk_x2.png").is_file()  # the file keeps its real name
