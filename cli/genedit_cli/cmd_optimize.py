"""``genedit optimize / export / save / push / bench``: make a model smaller or faster, and ship it.

The commands only parse options and print; the work is done by whichever plugin answers the
``optimize`` / ``export`` hooks (``genedit-compress`` ships the standard methods), and by
``genedit_compress.publish`` / ``genedit_compress.bench`` for saving, pushing and benchmarking.
Extra ``--key value`` options reach the method as strings in ``request.params``.
``optimize`` and ``bench`` take minutes: their phases are shown on stderr as they happen (a
:class:`~genedit_cli.console.PhaseProgress` passed as the ``progress`` callback), unless ``--quiet``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genedit_core.errors import PluginError, UsageError

from .console import PhaseProgress, err, out
from .params import parse_extras

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}

WeightsOpt = Annotated[
    Optional[str], typer.Option(help="Variant name, hf://owner/repo, a file or a saved folder.")
]
ScaleOpt = Annotated[Optional[int], typer.Option("--scale", "-s", help="Upscaling factor.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


def _compress() -> Any:
    try:
        import genedit_compress
    except ImportError:
        raise UsageError(
            "this command needs the genedit-compress plugin: pip install genedit-compress"
        ) from None
    return genedit_compress


def _load(model: str, weights: str | None, scale: int | None, device: str, dtype: str) -> Any:
    """Load through the core, or through genedit-compress for optimized folders and .onnx files."""
    try:
        from genedit_compress.loading import load_model
    except ImportError:
        from genedit_core.api import load

        return load(model, scale=scale, weights=weights, device=device, dtype=dtype)
    return load_model(model, weights=weights, scale=scale, device=device, dtype=dtype)


def _methods(kind: str) -> list[str]:
    from genedit_core.plugins import get_plugins

    return sorted(name for (k, name) in get_plugins().registry.methods if k == kind)


def _print_result(result: Any, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result, default=str))
        return
    for key, value in result.items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        out.print(f"{key}: {value}")


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (called once by genedit_cli.app)."""

    @app.command(context_settings=EXTRA)
    def optimize(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        method: Annotated[str, typer.Option("--method", help="Method name (see 'genedit plugins').")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder for weights, model card and report.")],
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        device: DeviceOpt = "cpu",
        as_json: JsonOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Optimize a model: [bold]genedit optimize edsr-baseline --method prune-structured --amount 0.5 --out pruned/[/bold].

        Method options are passed as --key value (e.g. --amount, --scope, --calib, --eval, --finetune-steps).
        """
        from genedit_core.plugins import get_plugins
        from genedit_core.requests import OptimizeRequest

        params = parse_extras(list(ctx.args))
        available = _methods("optimize")
        if method not in available:
            raise UsageError(f"--method {method}: unknown (installed: {', '.join(available) or 'none'})")
        with PhaseProgress("optimize", enabled=not quiet) as progress:
            progress(f"load {model}")
            loaded = _load(model, weights, scale, device, "fp32")
            request = OptimizeRequest(
                method=method, card=loaded.card, model=loaded, out=out_dir, params=params, progress=progress
            )
            report = get_plugins().hook.optimize(request=request)
        if report is None:
            raise PluginError(f"no plugin answered optimize method '{method}'")
        if as_json:
            out.print_json(json.dumps(report, default=str))
            return
        from genedit_compress.report import summary_lines

        for line in summary_lines(report):
            out.print(line)
        err.print(f"wrote {out_dir}")

    @app.command(context_settings=EXTRA)
    def export(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        fmt: Annotated[str, typer.Option("--format", help="onnx, torch-export or safetensors.")],
        out_path: Annotated[Path, typer.Option("--out", help="Output file or folder.")],
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        dynamic_size: Annotated[
            bool, typer.Option("--dynamic-size/--static-size", help="Symbolic batch/H/W.")
        ] = True,
        opset: Annotated[Optional[int], typer.Option(help="ONNX opset (default 18).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Export a model to ONNX, torch.export or safetensors, verified against PyTorch."""
        from genedit_core.plugins import get_plugins
        from genedit_core.requests import ExportRequest

        params = parse_extras(list(ctx.args))
        params["dynamic_size"] = str(dynamic_size).lower()
        if opset is not None:
            params["opset"] = str(opset)
        available = _methods("export")
        if fmt not in available:
            raise UsageError(f"--format {fmt}: unknown (installed: {', '.join(available) or 'none'})")
        loaded = _load(model, weights, scale, "cpu", "fp32")
        result = get_plugins().hook.export(request=ExportRequest(fmt, loaded.card, loaded, out_path, params))
        if result is None:
            raise PluginError(f"no plugin answered export format '{fmt}'")
        if not isinstance(result, dict):
            result = {"path": str(result)}
        if as_json:
            out.print_json(json.dumps(result, default=str))
            return
        for check in result.get("checks", []):
            out.print(f"verified on input {tuple(check['input'])}: max abs diff {check['max_abs_diff']:.3g}")
        if "max_abs_diff" in result:
            out.print(f"max abs diff {result['max_abs_diff']:.3g}")
        out.print(f"wrote {result['path']}")

    @app.command()
    def save(
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder to write.")],
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        metrics: Annotated[
            Optional[Path], typer.Option(help="JSON from 'genedit eval --json' for the card.")
        ] = None,
    ) -> None:
        """Write a Hub-ready folder: model.safetensors, config.json and a README.md model card."""
        _compress()
        from genedit_compress.publish import read_metrics, save_folder

        loaded = _load(model, weights, scale, "cpu", "fp32")
        folder = save_folder(loaded, out_dir, metrics=read_metrics(metrics) if metrics else None)
        out.print(
            f"wrote {folder} (load it with --weights {folder}, publish it with 'genedit push {folder} --repo OWNER/NAME')"
        )

    @app.command()
    def push(
        folder: Annotated[
            Path, typer.Argument(help="A folder written by 'genedit save' or 'genedit optimize'.")
        ],
        repo: Annotated[str, typer.Option(help="owner/name on the Hugging Face Hub.")],
        private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
        revision: Annotated[
            Optional[str], typer.Option(help="Branch to upload to (created if missing).")
        ] = None,
        message: Annotated[Optional[str], typer.Option(help="Commit message.")] = None,
    ) -> None:
        """Upload a saved folder to the Hub (log in first with 'hf auth login' or set HF_TOKEN)."""
        _compress()
        from genedit_compress.publish import push_folder

        result = push_folder(folder, repo, private=private, revision=revision, message=message)
        out.print(
            f"pushed {folder} to {result['url']} ({result['revision']}); load it with --weights hf://{repo}"
        )

    @app.command(context_settings=EXTRA)
    def bench(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        size: Annotated[str, typer.Option(help="Input size N or HxW.")] = "512",
        method: Annotated[
            Optional[list[str]], typer.Option("--method", help="Method(s) to compare with fp32 eager.")
        ] = None,
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        device: DeviceOpt = "cpu",
        dtype: Annotated[
            str, typer.Option(help="fp32, bf16 or fp16 for the eager run being measured.")
        ] = "fp32",
        repeats: Annotated[int, typer.Option(help="Timed runs per variant (median reported).")] = 5,
        as_json: JsonOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Median latency, throughput, peak memory and the ratio to fp32 eager, side by side in one run."""
        _compress()
        from genedit_compress.bench import bench_model, format_table

        params = parse_extras(list(ctx.args))
        with PhaseProgress("bench", enabled=not quiet) as progress:
            rows = bench_model(
                model,
                size=size,
                methods=list(method or []),
                weights=weights,
                scale=scale,
                device=device,
                dtype=dtype,
                repeats=repeats,
                params=params,
                progress=progress,
            )
        if as_json:
            out.print_json(json.dumps(rows, default=str))
            return
        out.print(format_table(rows))
