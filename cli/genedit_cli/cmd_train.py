"""``genedit train``, ``genedit eval`` and ``genedit datasets``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from genedit_core.errors import PluginError, UsageError

from .console import err, out, warn


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("eval", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(evaluate)
    app.command("datasets")(datasets)


def train(
    model: Annotated[str, typer.Argument(help="Model to train (see 'genedit list').")],
    data: Annotated[
        Optional[str], typer.Option(help="Image folder, or builtin:digits / builtin:skimage-photos.")
    ] = None,
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Run directory (default runs/MODEL).")
    ] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML/YAML/JSON config file.")] = None,
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="Override, e.g. --set train.steps=200.")
    ] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the run in this directory.")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    data_a: Annotated[
        Optional[str],
        typer.Option("--data-a", help="Domain A of a model that learns between two (cyclegan): data.a."),
    ] = None,
    data_b: Annotated[
        Optional[str], typer.Option("--data-b", help="Domain B of such a model: data.b.")
    ] = None,
) -> None:
    """Train a model with the shared trainer; [bold]torchrun -m genedit_cli train ...[/bold] for DDP."""
    from genedit_core.api import get_card
    from genedit_core.device import check_device_name
    from genedit_core.plugins import get_plugins
    from genedit_core.requests import TrainRequest
    from genedit_core.training.config import apply_overrides, load_config, read_saved_config
    from genedit_core.training.trainer import Trainer

    if device is not None:
        check_device_name(device)  # --device '' is refused, not taken as auto
    card = get_card(model)
    run_dir = resume or out_dir or Path("runs") / card.name
    if resume is None and (run_dir / "checkpoints" / "last.json").exists():
        raise UsageError(
            f"{run_dir}: already holds a run; continue it with --resume {run_dir} or pick another --out"
        )
    request = TrainRequest(
        card=card,
        data=Path(data) if data and not data.startswith("builtin:") else None,
        out=run_dir,
        resume=resume,
    )
    task = get_plugins().owner_hook("train", card)(request=request)
    if task is None:
        raise PluginError(
            f"model '{card.name}' cannot be trained: no installed plugin offers training for it"
        )
    if resume is not None:
        cfg = apply_overrides(read_saved_config(resume), set_ or [])
        data = data or cfg.get("data", {}).get("source")
    else:
        cfg = load_config(task.default_config, config, set_ or [])
        cfg.setdefault("data", {})["source"] = data
    if device is not None:
        cfg["train"]["device"] = device
    _set_domains(cfg, task, card.name, {"a": data_a, "b": data_b})
    # The config is checked first (a refused config leaves no run folder behind), then an --out
    # that cannot be a folder is one line, before any training.
    trainer = Trainer(task, cfg, run_dir, data=data, resume=resume is not None, quiet=quiet)
    if resume is None:
        from genedit_core.images import make_folder

        make_folder(run_dir)
    result = trainer.fit()
    if os.environ.get("RANK", "0") == "0":  # under torchrun, once (rank 0 wrote the run)
        err.print(f"run saved in {result}; use it with --weights {result}")


def _set_domains(cfg: dict, task, model: str, domains: dict[str, Optional[str]]) -> None:
    """``--data-a``/``--data-b`` set ``data.a``/``data.b``, for tasks whose config has those keys
    (unpaired translation learns between two image sets); any other task refuses them by name."""
    known = (getattr(task, "default_config", {}) or {}).get("data") or {}
    for key, value in domains.items():
        if value is None:
            continue
        if key not in known:
            raise UsageError(
                f"--data-{key}: model '{model}' does not train on two domains; give its data with --data"
            )
        cfg.setdefault("data", {})[key] = value


def evaluate(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="Task to evaluate, e.g. upscale.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")],
    data: Annotated[str, typer.Option(help="Folder of reference images, or builtin:skimage-photos:heldout.")],
    weights: Annotated[
        Optional[str], typer.Option(help="Variant, hf:// spec, file or run directory.")
    ] = None,
    scale: Annotated[Optional[int], typer.Option("--scale", "-s", help="Scale factor.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")] = "auto",
    dtype: Annotated[str, typer.Option(help="auto, fp32, bf16 or fp16.")] = "fp32",
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Measure a model on reference images: a table per image and the mean, next to a baseline.

    Options the model declares for this benchmark (e.g. --sigma 15,25,50) follow; 'genedit info
    MODEL' lists them.
    """
    from genedit_core.api import get_card, load
    from genedit_core.options import check_eval_params
    from genedit_core.plugins import get_plugins
    from genedit_core.requests import EvalRequest

    from .params import parse_extras

    # Checked before the model loads: a misspelt --sigmas costs nothing.
    options = check_eval_params(get_card(model), task, parse_extras(list(ctx.args)))
    loaded = load(model, scale=scale, weights=weights, device=device, dtype=dtype)
    request = EvalRequest(
        task=task, card=loaded.card, model=loaded, data=data, params={"scale": loaded.scale, **options}
    )
    report = get_plugins().owner_hook("evaluate", loaded.card)(request=request)
    if report is None:
        raise PluginError(f"no installed plugin evaluates task '{task}' for model '{loaded.name}'")
    report = {
        "model": loaded.name,
        "weights": loaded.weights.origin if loaded.weights else None,
        "scale": loaded.scale,
        "task": task,
        **report,
    }
    if as_json:
        out.print_json(json.dumps(report))
        return
    from rich.table import Table

    table = Table(
        title=f"{task}: {loaded.name} x{loaded.scale} ({report['weights'] or 'no weights'})",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    cols = report["columns"]
    for c in cols:
        table.add_column(c, justify="left" if c == "image" else "right")
    for row in report["rows"] + [{"image": "mean", **report["summary"]}]:
        table.add_row(*[_fmt(row.get(c)) for c in cols])
    out.print(table)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return "" if value is None else str(value)


def datasets(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the bundled sample datasets usable as --data builtin:NAME (the core's and the plugins'), with their licences."""
    from genedit_core.datasets import sample_sets

    sets, problems = sample_sets()
    for line in problems:
        warn(line)
    rows = [
        {
            "name": f"builtin:{s.name}",
            "plugin": s.plugin,
            "summary": s.summary,
            "licence": s.licence,
            "source": s.source,
        }
        for s in sets
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    from rich.table import Table

    # Names are what users type: never cut or wrapped; the prose columns wrap instead.
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    table.add_column("name", no_wrap=True, min_width=max(len(r["name"]) for r in rows))
    table.add_column("plugin", no_wrap=True)
    table.add_column("summary")
    for r in rows:
        table.add_row(r["name"], r["plugin"], f"{r['summary']}. Licence: {r['licence']}")
    out.print(table)
