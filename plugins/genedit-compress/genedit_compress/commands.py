"""``genedit optimize / export / save / push / bench``: the commands this plugin adds to genedit.

Registered through the ``register_commands`` hook, so they exist only while genedit-compress is
installed and loaded; the CLI itself knows nothing about them. From the CLI they use only
:mod:`genedit_cli.sdk` (consoles, progress, extra options). Every ``--key value`` beyond a
command's own options is checked against the options the method or format declares
(:mod:`.methods`) before any model is loaded: an unknown or mistyped one is exit 2, naming the
valid ones. ``genedit optimize --help`` lists them.

Every command loads its model with :func:`genedit_core.load`, so ``--weights`` takes whatever
``genedit run`` takes (variants, ``hf://``, files, training runs, folders ``optimize`` wrote,
``.onnx`` files). ``optimize`` and ``export`` dispatch to whichever plugin answers the ``optimize`` / ``export``
hooks for the method (the methods of other plugins are welcome); ``save``, ``push`` and ``bench``
are this plugin's own. ``optimize`` and ``bench`` take minutes: their phases are shown on stderr
as they happen, unless ``--quiet``.

Imported by ``genedit --help``: torch and the worker modules are imported inside command bodies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from genedit_cli.sdk import EXTRA_ARGS, PhaseProgress, err, extra_options, options_help, out

from genedit_core.sdk import PluginError, UsageError

from .methods import METHOD_OPTIONS, OPTIMIZE_METHODS

WeightsOpt = Annotated[
    str | None, typer.Option(help="Variant name, hf://owner/repo, a file or a saved folder.")
]
ScaleOpt = Annotated[int | None, typer.Option("--scale", "-s", help="Upscaling factor.")]
DeviceOpt = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr.")]


def _methods(kind: str) -> dict[str, Any]:
    """Installed methods of ``kind`` (``optimize`` or ``export``) from every plugin, by name."""
    from genedit_core.sdk import get_plugins

    methods = get_plugins().registry.methods
    return {name: methods[(k, name)] for (k, name) in sorted(methods) if k == kind}


def _method(kind: str, name: str, option: str) -> Any:
    available = _methods(kind)
    if name not in available:
        raise UsageError(f"{option} {name}: unknown (installed: {', '.join(available) or 'none'})")
    return available[name]


def register(app: typer.Typer) -> None:
    """Add the commands to ``app`` (the ``register_commands`` hook calls this)."""
    optimize_help = options_help(
        {name: m.options for name, m in _methods("optimize").items()},
        "Method options, passed as --key value (values are checked before the model loads):",
    )
    export_help = options_help(
        {name: m.options for name, m in _methods("export").items()},
        "Format options, passed as --key value:",
    )

    @app.command(context_settings=EXTRA_ARGS, epilog=optimize_help)
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

        Method options are passed as --key value; each method's are listed below.
        """
        from genedit_core.sdk import OptimizeRequest, get_plugins, load

        declared = _method("optimize", method, "--method")
        params = extra_options(ctx.args, declared.options, f"--method {method}")
        with PhaseProgress("optimize", enabled=not quiet) as progress:
            progress(f"load {model}")
            loaded = load(model, weights=weights, scale=scale, device=device, dtype="fp32")
            request = OptimizeRequest(
                method=method, card=loaded.card, model=loaded, out=out_dir, params=params, progress=progress
            )
            report = get_plugins().hook.optimize(request=request)
        if report is None:
            raise PluginError(f"no plugin answered optimize method '{method}'")
        if as_json:
            out.print_json(json.dumps(report, default=str))
            return
        from .report import summary_lines

        for line in summary_lines(report):
            out.print(line, markup=False)
        err.print(f"wrote {out_dir}", markup=False)

    @app.command(context_settings=EXTRA_ARGS, epilog=export_help)
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
        opset: Annotated[int | None, typer.Option(help="ONNX opset (default 18).")] = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Export a model to ONNX, torch.export or safetensors, verified against PyTorch."""
        from genedit_core.sdk import ExportRequest, get_plugins, load

        declared = _method("export", fmt, "--format")
        params = extra_options(ctx.args, declared.options, f"--format {fmt}")
        params["dynamic_size"] = str(dynamic_size).lower()
        if opset is not None:
            params["opset"] = str(opset)
        loaded = load(model, weights=weights, scale=scale, device="cpu", dtype="fp32")
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
        out.print(f"wrote {result['path']}", markup=False)

    @app.command()
    def save(
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Folder to write.")],
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        metrics: Annotated[
            Path | None, typer.Option(help="JSON from 'genedit eval --json' for the card.")
        ] = None,
    ) -> None:
        """Write a Hub-ready folder: model.safetensors, config.json and a README.md model card."""
        from genedit_core.sdk import load

        from .publish import read_metrics, save_folder

        loaded = load(model, weights=weights, scale=scale, device="cpu", dtype="fp32")
        folder = save_folder(loaded, out_dir, metrics=read_metrics(metrics) if metrics else None)
        out.print(
            f"wrote {folder} (load it with --weights {folder}, publish it with 'genedit push {folder} --repo OWNER/NAME')",
            markup=False,
        )

    @app.command()
    def push(
        folder: Annotated[
            Path, typer.Argument(help="A folder written by 'genedit save' or 'genedit optimize'.")
        ],
        repo: Annotated[str, typer.Option(help="owner/name on the Hugging Face Hub.")],
        private: Annotated[bool, typer.Option(help="Create the repository as private.")] = False,
        revision: Annotated[
            str | None, typer.Option(help="Branch to upload to (created if missing).")
        ] = None,
        message: Annotated[str | None, typer.Option(help="Commit message.")] = None,
    ) -> None:
        """Upload a saved folder to the Hub (log in first with 'hf auth login' or set HF_TOKEN)."""
        from .publish import push_folder

        result = push_folder(folder, repo, private=private, revision=revision, message=message)
        out.print(
            f"pushed {folder} to {result['url']} ({result['revision']}); load it with --weights hf://{repo}",
            markup=False,
        )

    @app.command(
        context_settings=EXTRA_ARGS,
        epilog="Options of the compared methods are passed as --key value; 'genedit optimize --help' "
        "lists them (bench times the methods itself, so their evaluation and timing options do not apply).",
    )
    def bench(
        ctx: typer.Context,
        model: Annotated[str, typer.Argument(help="Model name or alias.")],
        size: Annotated[str, typer.Option(help="Input size N or HxW.")] = "512",
        method: Annotated[
            list[str] | None, typer.Option("--method", help="Method(s) to compare with fp32 eager.")
        ] = None,
        backend: Annotated[
            list[str] | None,
            typer.Option(
                "--backend",
                help="Runtime(s) that convert the model to compare too, e.g. openvino (at --dtype); "
                "with --compare, only these (default: every installed one).",
            ),
        ] = None,
        weights: WeightsOpt = None,
        scale: ScaleOpt = None,
        device: DeviceOpt = "cpu",
        dtype: Annotated[
            str | None,
            typer.Option(
                help="fp32, bf16 or fp16 for the eager run being measured (default fp32; with "
                "--compare, auto: genedit's own choice)."
            ),
        ] = None,
        repeats: Annotated[int, typer.Option(help="Timed runs per variant (median reported).")] = 5,
        compare: Annotated[
            bool,
            typer.Option(
                "--compare",
                help="Every path side by side (fp32 eager, torch default, each runtime, ONNX Runtime, "
                "--artifact), against this CPU's conv peak; the fastest goes into --backend auto's table.",
            ),
        ] = False,
        artifact: Annotated[
            list[str] | None,
            typer.Option(
                "--artifact",
                help="With --compare: an .onnx file or a folder 'genedit optimize' wrote (int8, ...) to "
                "compare too; repeatable.",
            ),
        ] = None,
        onnx: Annotated[
            bool, typer.Option(help="With --compare: export to ONNX and time it in ONNX Runtime.")
        ] = True,
        as_json: JsonOpt = False,
        quiet: QuietOpt = False,
    ) -> None:
        """Median latency, throughput, peak memory and the ratio to fp32 eager, side by side in one run."""
        if compare:
            if method or ctx.args:
                raise UsageError(
                    "bench --compare times the runtimes; pass --method to a bench without --compare"
                )
            from .compare import compare_model, format_compare, json_safe

            with PhaseProgress("bench", enabled=not quiet) as progress:
                result = compare_model(
                    model,
                    size=size,
                    weights=weights,
                    scale=scale,
                    device=device,
                    dtype=dtype or "auto",
                    repeats=repeats,
                    backends=list(backend or []),
                    artifacts=list(artifact or []),
                    onnx=onnx,
                    progress=progress,
                )
            if as_json:
                out.print_json(json.dumps(json_safe(result), default=str, allow_nan=False))
            else:
                out.print(format_compare(result), markup=False)
            return
        if artifact:
            raise UsageError("--artifact goes with --compare")
        dtype = dtype or "fp32"
        methods = list(method or [])
        for m in methods:
            if m not in OPTIMIZE_METHODS:
                raise UsageError(f"--method {m}: unknown to bench (have: {', '.join(OPTIMIZE_METHODS)})")
        accepted = {o.name: o for m in methods for o in METHOD_OPTIONS[m]}
        what = "bench " + (" ".join(f"--method {m}" for m in methods) if methods else "without --method")
        params = extra_options(ctx.args, accepted.values(), what)
        from .bench import bench_model, format_table

        with PhaseProgress("bench", enabled=not quiet) as progress:
            rows = bench_model(
                model,
                size=size,
                methods=methods,
                weights=weights,
                scale=scale,
                device=device,
                dtype=dtype,
                repeats=repeats,
                params=params,
                progress=progress,
                backends=list(backend or []),
            )
        if as_json:
            out.print_json(json.dumps(rows, default=str))
            return
        out.print(format_table(rows), markup=False)
