"""The ``genedit`` command: list, info, plugins, pull, run, plus commands added by plugins.

Only this layer turns :class:`~genedit_core.errors.GeneditError` into exit codes: 0 when
everything succeeded, 1 when something failed, 2 for a usage error.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Optional

import typer

from genedit_core import __version__
from genedit_core.errors import GeneditError, UsageError

from .console import err, fail, out, setup_output, styled, verbose_from_env, warn
from .failures import debug_from_env, debug_in_args, set_debug, show_traceback, unexpected

app = typer.Typer(
    name="genedit",
    help="Image generation and editing from plugins.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        out.print(f"genedit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit."),
    ] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Also show third-party warnings and log lines (torch, onnxruntime, ...); or set GENEDIT_VERBOSE=1.",
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of every failure; or set GENEDIT_DEBUG=1."),
    ] = False,
) -> None:
    if debug:
        set_debug(True)
    setup_output(verbose or verbose_from_env())


def _plugins():
    from genedit_core.plugins import get_plugins

    return get_plugins()


def _scales_text(scales) -> str:
    """``x2,3,4``: the compact form used in tables."""
    return "x" + ",".join(str(s) for s in scales) if scales else ""


def scales_without_weights(card) -> list[int]:
    """Scales a card lists that none of its weight variants has a file for (they need --weights)."""
    if not card.needs_weights or not card.variants:
        return []
    return [s for s in card.scales if all(v.file_for(s) is None for v in card.variants)]


def _weights_cell(card, wide: bool) -> str:
    """The default variant first (marked *), a variant's scales when it lacks some, then the gaps."""
    if not card.variants:
        return "needs --weights" if card.needs_weights else "none needed"
    ordered = sorted(card.variants, key=lambda v: v.name != card.default_variant)
    names = []
    for v in ordered:
        label = v.name + ("*" if v.name == card.default_variant else "")
        have = sorted(s for s in v.files if s)
        if card.scales and have and set(have) != set(card.scales):
            label += " " + _scales_text(have)
        names.append(label)
    if not wide and len(names) > 2:
        names = [*names[:2], f"+{len(names) - 2} more"]
    text = ", ".join(names)
    missing = scales_without_weights(card)
    if missing:
        text += f"; no weights for {_scales_text(missing)}"
    return text


def _matches(card, pattern: str) -> bool:
    """fnmatch on the name and aliases, case-insensitive; a pattern without wildcards is a substring."""
    from fnmatch import fnmatchcase

    if not any(ch in pattern for ch in "*?["):
        pattern = f"*{pattern}*"
    pattern = pattern.lower()
    return any(fnmatchcase(n.lower(), pattern) for n in (card.name, *card.aliases))


@app.command("list")
def list_cmd(
    pattern: Annotated[
        Optional[str],
        typer.Argument(
            help="Only models whose name or alias matches, e.g. '*esr*' (fnmatch; a plain word matches anywhere)."
        ),
    ] = None,
    task: Annotated[
        Optional[str], typer.Option(help="Only models for this task (upscale, generate, ...).")
    ] = None,
    wide: Annotated[
        bool, typer.Option("--wide", "-w", help="Also show aliases, every variant and the summary.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show installed models, one row each: name, tasks (and scales), plugin, weights."""
    plugins = _plugins()
    registry = plugins.registry
    cards = [c for c in registry.list(task) if pattern is None or _matches(c, pattern)]
    cards.sort(key=lambda c: c.name)
    if as_json:
        out.print_json(json.dumps([c.to_dict() for c in cards]))
        return
    from rich.table import Table

    if not cards:
        what = " ".join(
            x for x in (f"matching '{pattern}'" if pattern else "", f"for task '{task}'" if task else "") if x
        )
        out.print(f"No models installed{' ' + what if what else ''}.", markup=False)
    else:
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
        table.add_column("model", no_wrap=True)
        table.add_column("tasks")
        table.add_column("plugin", no_wrap=True)
        table.add_column("weights")
        if wide:
            table.add_column("aliases")
            table.add_column("summary")
        for c in cards:
            # a card that lost its bare name to another plugin is reachable only as plugin:name
            owner = registry.aliases.get(c.name.lower())
            name = c.name if owner in (None, f"{c.plugin}:{c.name}") else f"{c.plugin}:{c.name}"
            tasks = ", ".join(c.tasks) + (" " + _scales_text(c.scales) if c.scales else "")
            row = [name, tasks, c.plugin, _weights_cell(c, wide)]
            if wide:
                row += [", ".join(c.aliases), c.summary]
            table.add_row(*row)
        out.print(table)
        if not wide:
            err.print(
                "* default weights. 'genedit info MODEL' shows a card; --wide adds aliases and summaries.",
                style="dim",
            )
    broken = [i for i in plugins.infos.values() if i.error]
    if broken:
        warn(
            f"{len(broken)} plugin(s) failed to load: "
            + ", ".join(i.name for i in broken)
            + " (see 'genedit plugins')"
        )


@app.command()
def info(
    model: Annotated[str, typer.Argument(help="Model name or alias.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a model card: tasks, scales, weight variants and where they come from."""
    card = _plugins().registry.get(model)
    data = card.to_dict()
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(styled((card.name, "bold"), f"  ({card.family}, plugin {card.plugin})"))
    out.print(card.summary)
    for key in ("aliases", "tasks", "scales", "licence", "paper", "bf16_safe", "fp16_safe"):
        value = data[key]
        if value not in ((), [], "", None):
            out.print(f"  {key}: {', '.join(map(str, value)) if isinstance(value, list) else value}")
    missing = scales_without_weights(card)
    if missing:
        out.print(
            f"  no weights shipped for: {', '.join(f'x{s}' for s in missing)} "
            "(pass --weights FILE, a run directory or hf://owner/repo)"
        )
    for task in card.tasks:
        options = card.task_options(task)
        if options:
            out.print(f"  options for {task}:")
            for o in options:
                out.print(f"    {o.describe()}", markup=False)
        options = card.eval_task_options(task)
        if options:
            out.print(f"  options for genedit eval {task}:")
            for o in options:
                out.print(f"    {o.describe()}", markup=False)
    if card.variants:
        out.print("  variants:")
    elif card.needs_weights:
        out.print("  variants: none shipped; pass --weights FILE, a run directory or hf://owner/repo")
    else:
        out.print("  variants: none (no weights needed)")
    for v in card.variants:
        default = " (default)" if v.name == card.default_variant else ""
        out.print(styled("    ", (v.name, "bold"), f"{default}: {v.source}  licence {v.licence}"))
        for s, f in sorted(v.files.items()):
            sha = f" sha256 {f.sha256[:16]}…" if f.sha256 else ""
            out.print(f"      {'x' + str(s) if s else 'file'}: {f.filename}{sha}")
        if v.description:
            out.print(f"      {v.description}")


@app.command()
def plugins(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List plugins with version, hooks, models and load errors."""
    infos = list(_plugins().infos.values())
    if as_json:
        out.print_json(json.dumps([i.to_dict() for i in infos]))
        return
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("plugin", "version", "distribution", "hooks", "models", "status"):
        table.add_column(col)
    for i in infos:
        status = styled((f"error: {i.error}", "red")) if i.error else styled("ok")
        for w in i.warnings:
            status.append(f"\n{w}", style="yellow")
        if i.command_error:
            status.append(f"\ncommands not added: {i.command_error}", style="red")
        provides = i.models + i.methods + [f"command:{c}" for c in i.commands]
        table.add_row(i.name, i.version, i.distribution, ", ".join(i.hooks), ", ".join(provides), status)
    out.print(table if infos else "No plugins installed (or none allowed by GENEDIT_LOAD_PLUGINS).")


@app.command()
def pull(
    model: Annotated[
        str, typer.Argument(help="Model name or alias, or an hf://owner/repo/file@revision spec.")
    ],
    variant: Annotated[
        Optional[str], typer.Option(help="Weight variant (default: the card's default).")
    ] = None,
    scale: Annotated[Optional[int], typer.Option(help="Only this scale's file.")] = None,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh", help="Accept Hub files whose sha256 changed since first use; record the new ones."
        ),
    ] = False,
) -> None:
    """Download a model's weights into the Hugging Face cache, for offline use later.

    Each Hub file's sha256 and commit are recorded when first fetched; later changes need --refresh.
    """
    from contextlib import nullcontext

    from genedit_core.weights import accept_new_hub_files, hub_lock_path, resolve_hub_spec, resolve_variant

    pulled = []

    def fetched(resolved) -> None:
        pulled.append(resolved)
        out.print(f"{resolved.origin} -> {resolved.path}  sha256 {resolved.sha256[:16]}…", markup=False)

    with accept_new_hub_files() if refresh else nullcontext([]) as changes:
        if model.startswith("hf://"):
            if variant is not None or scale is not None:
                raise UsageError(f"{model}: --variant and --scale apply to model names, not hf:// specs")
            fetched(resolve_hub_spec(model))
        else:
            card = _plugins().registry.get(model)
            name = variant or card.default_variant
            v = card.variant(name) if name else None
            if v is None:
                names = ", ".join(x.name for x in card.variants) or "none"
                raise UsageError(f"{card.name}: no weights variant '{name}' (variants: {names})")
            for s in [scale] if scale else (sorted(v.files) or [None]):
                fetched(resolve_variant(card, v, s or None))
    for c in changes:
        out.print(f"{c.key}: accepted sha256 {c.new_sha256} (was {c.old_sha256})", markup=False)
    if any(r.origin.startswith("hf://") for r in pulled):
        out.print(f"sha256 and commit of each Hub file recorded in {hub_lock_path()}", markup=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task, e.g. upscale.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name (see 'genedit list').")],
    inputs: Annotated[
        Optional[list[str]], typer.Argument(help="Image files, folders or glob patterns.")
    ] = None,
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="Output file (one input only).")
    ] = None,
    out_dir: Annotated[
        Optional[str], typer.Option("--out-dir", help="Folder for outputs (default: results/).")
    ] = None,
    scale: Annotated[Optional[int], typer.Option("--scale", "-s", help="Upscaling factor.")] = None,
    weights: Annotated[
        Optional[str], typer.Option(help="Variant name, hf://owner/repo/file@rev, or a path.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16.")] = "auto",
    backend: Annotated[
        str,
        typer.Option(
            help="auto (the runtime 'genedit bench MODEL --compare' measured fastest here, else torch), "
            "torch, or an installed runtime such as openvino."
        ),
    ] = "auto",
    tile: Annotated[str, typer.Option(help="Tile size in input pixels, 'auto', or 0 for none.")] = "auto",
    tile_overlap: Annotated[
        Optional[int],
        typer.Option(help="Context pixels around each tile (default: the model's receptive field)."),
    ] = None,
    ext: Annotated[
        Optional[str], typer.Option(help="Output file type, e.g. png (default: the input's).")
    ] = None,
    recursive: Annotated[bool, typer.Option(help="Recurse into input folders.")] = False,
    overwrite: Annotated[
        bool,
        typer.Option(help="Replace outputs that already exist (even a file that is also an input)."),
    ] = False,
    skip_existing: Annotated[
        bool,
        typer.Option(help="Skip inputs whose output already exists (rerun an interrupted batch)."),
    ] = False,
    max_pixels: Annotated[
        Optional[int], typer.Option(help="Refuse images larger than this many pixels.")
    ] = None,
    ray: Annotated[
        Optional[str],
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Run the batch as Ray tasks: 'local' (a Ray instance here), 'auto' or ray://HOST:10001 "
            "(needs pip install 'genedit[ray]').",
        ),
    ] = None,
    ray_tasks: Annotated[
        Optional[int],
        typer.Option(help="Ray tasks, one share of the inputs each (default: one per GPU, else per CPU)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run an editing task on images: [bold]genedit run upscale --model edsr photo.png[/bold].

    The model's own options for the task (e.g. --steps 8) follow; 'genedit run TASK -m MODEL --help'
    lists them, and any other is refused before the model loads.
    """
    from .params import split_inputs_and_extras
    from .running import run_batch

    inputs, params = split_inputs_and_extras(list(inputs or []) + list(ctx.args))
    if task == "generate":
        if ray is not None or ray_tasks is not None:
            raise UsageError("genedit run generate runs in one process: --ray splits only image inputs")
        from .generating import generate_from_run

        raise typer.Exit(
            generate_from_run(
                model,
                inputs,
                params,
                weights,
                device,
                dtype,
                out_dir,
                as_json,
                overwrite=overwrite,
                skip_existing=skip_existing,
            )
        )
    if not inputs:
        raise UsageError("genedit run: give at least one input image, folder or pattern")

    code = run_batch(
        task=task,
        inputs=inputs,
        model=model,
        output=output,
        out_dir=out_dir,
        scale=scale,
        weights=weights,
        device=device,
        dtype=dtype,
        backend=backend,
        tile=tile,
        tile_overlap=tile_overlap,
        ext=ext,
        recursive=recursive,
        overwrite=overwrite,
        skip_existing=skip_existing,
        max_pixels=max_pixels,
        as_json=as_json,
        quiet=quiet,
        params=params,
        ray=ray,
        ray_tasks=ray_tasks,
    )
    raise typer.Exit(code)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def generate(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Generative model (see 'genedit list --task generate').")],
    seeds: Annotated[str, typer.Option(help="Seeds: 0-15, 0,3,7 or 0-3,9.")] = "0-7",
    out_dir: Annotated[Optional[str], typer.Option(help="Output folder (default generated/MODEL).")] = None,
    grid: Annotated[bool, typer.Option(help="Also write grid.png.")] = False,
    interpolate: Annotated[
        Optional[tuple[int, int]], typer.Option(help="Two seeds to interpolate between.")
    ] = None,
    steps: Annotated[int, typer.Option(help="Frames for --interpolate.")] = 8,
    gif: Annotated[bool, typer.Option(help="Also write interpolation.gif.")] = False,
    weights: Annotated[
        Optional[str], typer.Option(help="Variant name, hf://owner/repo/file@rev, or a path.")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16.")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace outputs that already exist.")] = False,
    skip_existing: Annotated[
        bool, typer.Option(help="Keep outputs that already exist and make only the missing ones.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
) -> None:
    """Sample images from a generative model: [bold]genedit generate dcgan --seeds 0-15 --grid[/bold].

    Options of the model itself (--truncation, --class, ...) follow; 'genedit generate MODEL --help'
    lists them.
    """
    from .generating import generate_images
    from .params import split_inputs_and_extras

    # An option of the model's before its name ('--class 3 biggan') leaves click's MODEL wrong.
    names, extras = split_inputs_and_extras([model, *ctx.args])
    if len(names) != 1:
        raise UsageError(
            f"genedit generate: give one model, then its options (got {' '.join(names) or 'none'})"
        )
    raise typer.Exit(
        generate_images(
            model=names[0],
            seeds=seeds,
            weights=weights,
            device=device,
            dtype=dtype,
            out_dir=out_dir,
            grid=grid,
            interpolate=interpolate,
            steps=steps,
            gif=gif,
            as_json=as_json,
            extras=extras,
            overwrite=overwrite,
            skip_existing=skip_existing,
        )
    )


def _add_core_commands() -> None:
    from . import cmd_plugin, cmd_train

    cmd_train.register(app)
    cmd_plugin.register(app)


_add_core_commands()

# Commands that plugins released with genedit add (docs/cli.md documents them). Only names: the CLI
# imports no plugin. When one is missing, the error says which distribution brings it and why it is
# not there (not installed, left out by GENEDIT_LOAD_PLUGINS, failed to load).
PLUGIN_COMMANDS = {
    "optimize": "genedit-compress",
    "export": "genedit-compress",
    "save": "genedit-compress",
    "push": "genedit-compress",
    "bench": "genedit-compress",
    "serve": "genedit-serve",
}

# What the last _add_plugin_commands added, and for which plugin set (main() may run several times in
# one process, e.g. in tests, each time with the plugin set current then).
_added: dict[str, Any] = {"plugins": None, "commands": [], "groups": []}


def _command_names(commands: list[Any], groups: list[Any]) -> list[str | None]:
    """The names click will give Typer's registered commands and sub-apps (None: unnamed sub-app)."""
    from typer.main import get_command_name

    names: list[str | None] = [
        c.name or (get_command_name(c.callback.__name__) if c.callback is not None else None)
        for c in commands
    ]
    names += [g.name or getattr(g.typer_instance.info, "name", None) or None for g in groups]
    return names


def _add_plugin_commands() -> None:
    """Call each plugin's ``register_commands`` on its own, and add what it registered to ``app``.

    A plugin registers into an app of its own first, so a plugin that raises adds nothing (its
    error goes to its PluginInfo, shown by 'genedit plugins') and never costs another plugin its
    commands. A command name already taken (by genedit itself or a plugin loaded earlier) is refused
    for the later plugin, with a warning on its PluginInfo.
    """
    from genedit_core.plugins import describe_error

    plugins = _plugins()
    if _added["plugins"] is plugins:
        return
    app.registered_commands[:] = [c for c in app.registered_commands if c not in _added["commands"]]
    app.registered_groups[:] = [g for g in app.registered_groups if g not in _added["groups"]]
    _added.update(plugins=plugins, commands=[], groups=[])
    owner = {
        name: "genedit itself" for name in _command_names(app.registered_commands, app.registered_groups)
    }
    for info, register_commands in plugins.per_plugin("register_commands"):
        staging = typer.Typer()
        info.commands, info.command_error = [], None
        try:
            register_commands(app=staging)
        except Exception as exc:  # a plugin's commands must not break the CLI
            info.command_error = describe_error(exc)
            continue
        items = [(c, app.registered_commands, _added["commands"]) for c in staging.registered_commands]
        items += [(g, app.registered_groups, _added["groups"]) for g in staging.registered_groups]
        names = _command_names(staging.registered_commands, staging.registered_groups)
        for (item, target, added), name in zip(items, names):
            if name is None:
                info.warnings.append("a command group without a name was not added (give add_typer a name=)")
            elif name in owner:
                info.warnings.append(
                    f"command '{name}' is already provided by {owner[name]}; this one is not added"
                )
            else:
                owner[name] = f"plugin '{info.name}'"
                target.append(item)
                added.append(item)
                info.commands.append(name)


def _missing_plugin_command(argv: list[str]) -> str | None:
    """Why ``genedit COMMAND`` is unknown when COMMAND comes from a plugin that is not loaded."""
    name = next((a for a in argv if not a.startswith("-")), None)
    dist = PLUGIN_COMMANDS.get(name or "")
    if name is None or dist is None:
        return None
    if name in _command_names(app.registered_commands, app.registered_groups):
        return None
    import os
    from importlib import metadata

    def norm(text: str) -> str:
        return text.lower().replace("_", "-").replace(".", "-")

    infos = [i for i in _plugins().infos.values() if norm(i.distribution) == dist]
    where = f"'genedit {name}' comes from the {dist} plugin"
    if broken := [i for i in infos if i.error or i.command_error]:
        why = broken[0].error or broken[0].command_error
        return f"{where}, which failed to load ({why}); see 'genedit plugins'"
    if infos:
        return f"{where}, which did not add it; see 'genedit plugins'"
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return f"{where}, which is not installed: pip install {dist}"
    allowed = os.environ.get("GENEDIT_LOAD_PLUGINS", "")
    return f"{where}, which GENEDIT_LOAD_PLUGINS={allowed!r} leaves out (add {dist} to it)"


def _describe_tasks() -> None:
    """Give 'genedit run --help' the tasks of the installed plugins, each with its models."""
    from rich.markup import escape

    tasks: dict[str, list[str]] = {}
    for card in _plugins().registry.list():
        for t in card.tasks:
            tasks.setdefault(t, []).append(card.name)
    if not tasks:
        text = "No tasks: no plugin with models is installed (see 'genedit plugins')."
    else:
        lines = [f"  [bold]{escape(t)}[/bold]: {escape(', '.join(sorted(tasks[t])))}" for t in sorted(tasks)]
        text = "Tasks of the installed plugins, with their models:\n\n" + "\n".join(lines)
    for command in app.registered_commands:
        if command.callback is not None and command.callback.__name__ == "run":
            command.epilog = text


def _model_of(command: str, args: list[str]) -> tuple[str | None, str | None]:
    """The (task, model) a ``run``/``generate`` command line names, read before click parses it."""
    if command == "generate":
        names = [a for a in args if not a.startswith("-")]
        return "generate", names[0] if names else None
    task, model = None, None
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-m", "--model") and i + 1 < len(args):
            model, i = args[i + 1], i + 2
            continue
        if a.startswith("--model="):
            model = a.split("=", 1)[1]
        elif task is None and not a.startswith("-"):
            task = a
        i += 1
    return task, model


def _describe_model_options(argv: list[str]) -> None:
    """Give 'genedit run TASK -m MODEL --help' and 'genedit generate MODEL --help' that model's
    options for the task (typed, with defaults), from its card: no model loads, no torch."""
    from rich.markup import escape

    from genedit_core.options import task_options_help

    if "--help" not in argv:
        return
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in ("run", "generate"):
        return
    task, name = _model_of(command, argv[argv.index(command) + 1 :])
    if name is None:
        return
    try:
        card = _plugins().registry.get(name)
    except GeneditError as exc:
        text = f"{exc}"
    else:
        if task is None:
            text = f"{card.name} does: {', '.join(card.tasks)}; name the task to see its options."
        elif task not in card.tasks:
            text = f"{card.name} does not do '{task}' (it does: {', '.join(card.tasks)})."
        else:
            # an unindented last line: click dedents an epilog whose later lines are all indented
            more = f"'genedit info {card.name}' lists the options of each of its tasks."
            text = "\n".join([*task_options_help(card, task), more])
    for c in app.registered_commands:
        if c.callback is not None and c.callback.__name__ == command:
            c.epilog = "\n\n".join(x for x in (escape(text), c.epilog) if x)


def main(argv: list[str] | None = None) -> None:
    """The entry point, and the last boundary: whatever happens, one line and an exit code.

    0 success, 1 failure, 2 usage error, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM). A
    failure nobody foresaw is ``error: unexpected ... (run with --debug for the traceback)``,
    never a traceback, unless ``--debug`` or ``GENEDIT_DEBUG=1`` asks for one.
    """
    set_debug(debug_from_env() or debug_in_args(sys.argv[1:] if argv is None else argv))
    if argv is None:  # the program itself, not a caller embedding genedit in its own process
        _catch_sigterm()
        _skip_collection_at_exit()
    try:
        _add_plugin_commands()
        _describe_tasks()
        _describe_model_options(sys.argv[1:] if argv is None else argv)
        if missing := _missing_plugin_command(sys.argv[1:] if argv is None else argv):
            raise UsageError(missing)
        # Without standalone mode, click returns the code of a raised typer.Exit instead of raising it.
        code = app(args=argv, standalone_mode=False)
    except GeneditError as exc:
        show_traceback(exc)
        fail(str(exc))
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _interrupted()
    except typer.TyperException as exc:  # typer vendors click: its usage errors are not click's classes
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        sys.exit(getattr(exc, "exit_code", 2))
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        show_traceback(exc)
        fail(unexpected(exc))
        sys.exit(1)
    if code == INTERRUPTED:  # typer turns Ctrl-C inside a command into this code, silently
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)


INTERRUPTED = 130  # the shell's code for a process ended by SIGINT
TERMINATED = 143  # ... and by SIGTERM (kill, a scheduler, docker stop)
_terminated = False


def _catch_sigterm() -> None:
    """SIGTERM ends genedit the way Ctrl-C does: raised where the program is, so the ``finally``
    blocks remove temporary files and no half-written output is left; then one line, exit 143."""
    import signal
    from contextlib import suppress

    def on_sigterm(signum: int, frame: object) -> None:
        global _terminated
        _terminated = True
        raise KeyboardInterrupt

    with suppress(ValueError):  # not the main thread (main() called from a thread): keep the default
        signal.signal(signal.SIGTERM, on_sigterm)


def _skip_collection_at_exit() -> None:
    """Spare the interpreter's last garbage collections when the program ends.

    Why: while it tears down, Python runs its garbage collector over the objects still alive,
    about 180,000 with torch and OpenVINO imported: the exit took 1.1-1.4 s of a warm
    ``genedit run`` on the 2-core build machine at a load average of 6, against 0.3 s with them frozen (``gc.freeze``, at exit, after the other exit
    handlers: it is registered first, so it runs last). Nothing genedit writes depends on those
    collections: outputs are closed and renamed into place before the command returns, and
    temporary folders are removed by ``finally`` blocks and exit handlers, which still run.
    """
    import atexit
    import gc

    atexit.register(gc.freeze)


def _interrupted() -> None:
    """Ctrl-C or SIGTERM: one line, exit 130 or 143. Temporary files were removed on the way out."""
    err.print("terminated" if _terminated else "interrupted", markup=False)
    sys.exit(TERMINATED if _terminated else INTERRUPTED)


if __name__ == "__main__":
    main()
