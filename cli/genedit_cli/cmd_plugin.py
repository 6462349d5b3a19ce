"""``genedit plugin new NAME --task TASK``: start a plugin that already works.

Why a generator: the contract (entry point, torch-free hooks module, card, ``LoadedModel``, the 0–1
convention, a ``tiny_weights`` hook for the conformance check) is easiest to learn from a package
that meets all of it. What it writes installs with ``pip install -e``, shows up in
``genedit plugins``/``list``, runs with ``genedit run`` (or ``generate``) without weights, and passes
``genedit_core.testing``'s conformance check unchanged. docs/plugins.md walks through it.

The files are ``string.Template`` s in ``plugin_template/`` (package data): one network module per
kind of task (``upscale``, ``generate``, any other name an image-to-image edit).
"""

from __future__ import annotations

import os
import re
import shutil
import string
import tempfile
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from genedit_core.errors import UsageError

from .console import out, warn

plugin_app = typer.Typer(
    help="Start a plugin of your own: genedit plugin new NAME --task TASK.", no_args_is_help=True
)

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

_SUMMARIES = {
    "upscale": "A tiny learnable upscaler: nearest neighbour plus a residual conv net.",
    "generate": "A tiny pattern generator: a coordinate MLP, one colour pattern per seed.",
    "edit": "A tiny learnable filter for '{task}': the identity plus a residual conv net.",
}
_FAMILIES = {"upscale": "super-resolution", "generate": "generative"}
# The one example option each template declares in cards.py and reads in plugin.py: name, help, high.
_OPTIONS = {
    "image": ("strength", "how much of the network's change to keep (0: plain resampling)", "1.0"),
    "generate": ("temperature", "spread of the latents (0: one image for every seed)", "4.0"),
}


def register(app: typer.Typer) -> None:
    app.add_typer(plugin_app, name="plugin")


def kind_of(task: str) -> str:
    """Which network the template writes for ``task``."""
    return task if task in ("upscale", "generate") else "edit"


def _check_word(value: str, what: str, example: str) -> None:
    if not _NAME.fullmatch(value):
        raise UsageError(
            f"{what} '{value}': use lower-case letters, digits and single '-' between them, "
            f"starting with a letter (e.g. {example})"
        )


def plan(name: str, task: str) -> dict[str, str]:
    """The template values for plugin ``name`` serving ``task``; a UsageError for a bad name."""
    _check_word(name, "NAME", "'sharpen' or 'my-upscaler'")
    if name.startswith("genedit"):
        short = name.removeprefix("genedit").lstrip("-") or "NAME"
        raise UsageError(
            f"NAME '{name}': give the short name ('{short}'); the package is called genedit-NAME"
        )
    _check_word(task, "--task", "upscale, generate or denoise")
    from genedit_core import __version__

    kind = kind_of(task)
    module = "genedit_" + name.replace("-", "_")
    if kind == "generate":
        example = f"genedit generate {name} --seeds 0-3 --grid"
    else:
        example = f"genedit run {task} --model {name} photo.png"
    return {
        "name": name,
        "dist": f"genedit-{name}",
        "module": module,
        "tests_name": "test_" + name.replace("-", "_") + "_conformance.py",
        "task": task,
        "kind": kind,
        "family": _FAMILIES.get(kind, task),
        "summary": _SUMMARIES[kind].format(task=task),
        "card_fields": "\n        scales=(2, 3, 4)," if kind == "upscale" else "",
        **dict(
            zip(
                ("option_name", "option_help", "option_high"),
                _OPTIONS["generate" if kind == "generate" else "image"],
            )
        ),
        "genedit_version": __version__,
        "example": example,
    }


def _files(values: dict[str, str]) -> dict[str, str]:
    """Template file (under plugin_template/) -> path in the new folder."""
    module, kind = values["module"], values["kind"]
    return {
        "pyproject.toml.tmpl": "pyproject.toml",
        "README.md.tmpl": "README.md",
        "package/__init__.py.tmpl": f"{module}/__init__.py",
        "package/cards.py.tmpl": f"{module}/cards.py",
        f"package/plugin_{'generate' if kind == 'generate' else 'image'}.py.tmpl": f"{module}/plugin.py",
        f"package/network_{kind}.py.tmpl": f"{module}/network.py",
        # Named after the plugin: pytest cannot collect two test modules of one name in one run.
        "tests/test_conformance.py.tmpl": f"tests/{values['tests_name']}",
    }


def write_plugin(name: str, task: str, parent: Path) -> tuple[Path, list[str]]:
    """Write ``parent/genedit-NAME/`` and return it with the files written (relative paths).

    The folder appears whole or not at all: files are written to a temporary folder beside it and
    moved into place; an existing folder is never touched.
    """
    values = plan(name, task)
    target = parent / values["dist"]
    if target.exists() or target.is_symlink():
        raise UsageError(f"{target}: already exists; pick another NAME or --dir (nothing was written)")
    if not parent.is_dir():
        raise UsageError(f"--dir {parent}: no such folder")
    templates = resources.files("genedit_cli").joinpath("plugin_template")
    written = []
    staging = Path(tempfile.mkdtemp(prefix=f".{values['dist']}-", dir=parent))
    try:
        mask = os.umask(0)
        os.umask(mask)
        staging.chmod(0o777 & ~mask)  # mkdtemp makes it private; the package is an ordinary folder
        for source, rel in _files(values).items():
            text = string.Template(templates.joinpath(source).read_text(encoding="utf-8")).substitute(values)
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            written.append(rel)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target, written


@plugin_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Short name: the entry point, the model and genedit-NAME.")],
    task: Annotated[
        str, typer.Option(help="upscale, generate, or any other name for an image-to-image edit.")
    ] = "upscale",
    parent: Annotated[Path, typer.Option("--dir", help="Folder to create genedit-NAME in.")] = Path("."),
) -> None:
    """Write an installable plugin package, genedit-NAME/, with a tiny working model and tests."""
    target, written = write_plugin(name, task, parent)
    _warn_taken(name)
    out.print(f"wrote {target}/", markup=False)
    for rel in written:
        out.print(f"  {rel}", markup=False)
    values = plan(name, task)
    shown = target if target.is_absolute() else f"./{target}"
    out.print(
        f"next: pip install -e {shown}  then  genedit plugins  and  {values['example']}  "
        f"(tests: python -m pytest {shown}/tests)",
        markup=False,
    )


def _warn_taken(name: str) -> None:
    """Say so when an installed plugin already uses the name (the conformance check would fail)."""
    from genedit_core.plugins import get_plugins

    plugins = get_plugins()
    taken = name.lower() in plugins.registry.aliases or name in plugins.infos
    if taken:
        warn(f"'{name}' is already a model or plugin name here; rename it before publishing")
