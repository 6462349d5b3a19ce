"""genedit hook implementations for optimisation and export.

Imported by ``genedit list``: keep it torch-free. Every hook body imports its worker module lazily.
A method or format that is not ours returns ``None`` so another plugin can answer it; the same
goes for ``transform_model``, which finishes loading what our methods wrote.
"""

from __future__ import annotations

from genedit_core.sdk import hookimpl

from .methods import EXPORT_FORMATS, FORMAT_OPTIONS, OPTIMIZE_METHODS, optimize_options


@hookimpl
def register_methods(register):
    for name, summary in OPTIMIZE_METHODS.items():
        register("optimize", name, summary, optimize_options(name))
    for name, summary in EXPORT_FORMATS.items():
        register("export", name, summary, FORMAT_OPTIONS[name])


@hookimpl
def register_commands(app):
    """``genedit optimize / export / save / push / bench`` (torch-free to register; see commands.py)."""
    from .commands import register

    register(app)


@hookimpl
def transform_model(request):
    """Finish loading a folder one of our methods wrote (its config.json names the method)."""
    if request.method not in OPTIMIZE_METHODS:
        return None
    from .artifacts import transform

    return transform(request)


@hookimpl
def optimize(request):
    if request.method not in OPTIMIZE_METHODS:
        return None
    from .optimizing import run_method

    return run_method(request)


@hookimpl
def export(request):
    if request.format not in EXPORT_FORMATS:
        return None
    from .exporting import export_model

    return export_model(request)
