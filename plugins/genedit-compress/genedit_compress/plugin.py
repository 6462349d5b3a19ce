"""genedit hook implementations for optimisation and export.

Imported by ``genedit list``: keep it torch-free. Every hook body imports its worker module lazily.
A method or format that is not ours returns ``None`` so another plugin can answer it.
"""

from __future__ import annotations

from genedit_core import hookimpl

from .methods import EXPORT_FORMATS, FORMAT_OPTIONS, OPTIMIZE_METHODS, optimize_options

PLUGIN_NAME = "compress"


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


@hookimpl(tryfirst=True)
def load_model(request):
    """Rebuild folders whose layers were changed (structured pruning, depthwise) for any plugin.

    Runs before the owning plugin: it answers only when the weights' config.json carries a
    compress recipe with layer surgery, so ``genedit run --weights DIR`` works on such folders.
    """
    config = request.weights.config if request.weights is not None else {}
    recipe = (config or {}).get("genedit", {}).get("compress") or {}
    if not recipe.get("surgery"):
        return None
    from genedit_core.device import dtype_name

    from .loading import rebuild

    return rebuild(
        request.card,
        request.weights,
        recipe,
        scale=request.scale,
        device=str(request.device),
        dtype=dtype_name(request.dtype),
    )


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
