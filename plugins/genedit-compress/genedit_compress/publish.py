"""Hub-ready folders (``genedit save``) and uploading them (``genedit push``).

A folder holds ``model.safetensors`` (the network's own state-dict keys), ``config.json`` (the
hyperparameters the owning plugin needs to rebuild the network, plus a ``genedit`` section naming
the model and scale) and ``README.md``, a model card whose YAML header carries
``library_name: genedit`` so the Hub files it under genedit. genedit's weight resolution already
looks for exactly this pair, so the folder loads back with ``--weights DIR`` and, once pushed, with
``--weights hf://owner/name``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genedit_core.sdk import UsageError, WeightsError, hub_error

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
CARD_NAME = "README.md"

# Hub licence identifiers for the licence strings our cards use.
_LICENCES = {
    "apache-2.0": "apache-2.0",
    "apache 2.0": "apache-2.0",
    "mit": "mit",
    "bsd-3-clause": "bsd-3-clause",
}
_PIPELINE_TAGS = {
    "upscale": "image-to-image",
    "denoise": "image-to-image",
    "generate": "unconditional-image-generation",
}


def model_config(model: Any, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What ``config.json`` holds: the resolved weights' config, the plugin's hyperparameters, provenance."""
    from genedit_core.sdk import __version__

    config: dict[str, Any] = {}
    if model.weights is not None:
        config.update({k: v for k, v in model.weights.config.items() if k != "genedit"})
    config.update(_jsonable(model.hyperparameters))
    config["genedit"] = {
        "model": model.card.name,
        "plugin": model.card.plugin,
        "scale": model.scale,
        "tasks": list(model.card.tasks),
        "source": model.weights.origin if model.weights else None,
        "source_sha256": model.weights.sha256 if model.weights else None,
        "genedit_version": __version__,
        **dict(extra or {}),
    }
    return config


def write_weights(
    model: Any,
    folder: Path,
    extra_config: Mapping[str, Any] | None = None,
    state: Mapping[str, Any] | None = None,
) -> Path:
    """``model.safetensors`` (the module's tensors, or ``state`` when given) and ``config.json``."""
    from safetensors.torch import save_file

    from ._wrap import require_module, state_for_saving

    module = require_module(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / WEIGHTS_NAME
    save_file(
        dict(state) if state is not None else state_for_saving(module),
        str(path),
        metadata={"format": "pt", "genedit_model": model.card.name},
    )
    (folder / CONFIG_NAME).write_text(
        json.dumps(model_config(model, extra_config), indent=2, sort_keys=True) + "\n"
    )
    return path


def licence_id(text: str) -> str:
    key = (text or "").strip().lower()
    for name, hub in _LICENCES.items():
        if key.startswith(name):
            return hub
    return "other"


def card_text(
    model: Any,
    *,
    metrics: Mapping[str, Any] | None = None,
    tags: tuple[str, ...] = (),
    body: str = "",
    base_model: str | None = None,
) -> str:
    """A model card: YAML metadata the Hub reads, then a short human description."""
    import yaml

    card = model.card
    meta: dict[str, Any] = {
        "library_name": "genedit",
        "license": licence_id(card.licence),
        "tags": sorted({"genedit", card.family, card.name, *card.tasks, *tags}),
    }
    pipeline = next((_PIPELINE_TAGS[t] for t in card.tasks if t in _PIPELINE_TAGS), None)
    if pipeline:
        meta["pipeline_tag"] = pipeline
    if base_model:
        meta["base_model"] = base_model
    if metrics:
        meta["model-index"] = [
            {
                "name": card.name,
                "results": [
                    {
                        "task": {"type": pipeline or card.tasks[0], "name": card.tasks[0]},
                        "dataset": {"name": str(metrics.get("dataset", "eval")), "type": "images"},
                        "metrics": [
                            {"type": k, "value": float(v)}
                            for k, v in metrics.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)
                        ],
                    }
                ],
            }
        ]
    lines = [
        "---",
        yaml.safe_dump(meta, sort_keys=False).rstrip(),
        "---",
        "",
        f"# {card.name} ×{model.scale}" if card.scales else f"# {card.name}",
        "",
        card.summary,
        "",
        "## Use with genedit",
        "",
        "```bash",
        "pip install genedit " + (f"genedit-{card.plugin}" if card.plugin else ""),
        f"genedit run {card.tasks[0]} --model {card.name} --weights hf://OWNER/NAME input.png"
        if card.tasks and card.tasks[0] != "generate"
        else f"genedit generate {card.name} --weights hf://OWNER/NAME --seeds 0-7",
        "```",
        "",
        "Replace OWNER/NAME with this repository, or pass the local folder to `--weights`.",
        "",
        "## Provenance",
        "",
        f"- model: `{card.name}` (plugin `{card.plugin}`, family {card.family})",
        f"- weights source: `{model.weights.origin if model.weights else 'none'}`",
    ]
    if model.weights is not None:
        lines.append(f"- source sha256: `{model.weights.sha256}`")
    if card.paper:
        lines.append(f"- paper: {card.paper}")
    if model.hyperparameters:
        lines += ["", "## Hyperparameters", ""]
        lines += [f"- {k}: {v}" for k, v in sorted(_jsonable(model.hyperparameters).items())]
    if metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in metrics.items()]
    if body:
        lines += ["", body.rstrip()]
    return "\n".join(lines) + "\n"


def save_folder(model: Any, out: Path, *, metrics: Mapping[str, Any] | None = None) -> Path:
    """``genedit save``: weights + config + card in ``out``; returns the folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    write_weights(model, out)
    (out / CARD_NAME).write_text(card_text(model, metrics=metrics))
    return out


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Metrics from ``genedit eval --json`` output (its ``summary``) or a flat JSON object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(f"--metrics {path}: not a readable JSON file ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("summary"), dict):
        return dict(data["summary"])
    if isinstance(data, dict):
        return data
    raise UsageError(f"--metrics {path}: expected a JSON object")


def hf_api(endpoint: str | None = None, token: str | None = None) -> Any:
    from huggingface_hub import HfApi

    return HfApi(
        endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None,
        token=token or os.environ.get("HF_TOKEN") or None,
    )


def push_folder(
    folder: str | Path,
    repo: str,
    *,
    private: bool = False,
    revision: str | None = None,
    message: str | None = None,
    api: Any = None,
) -> dict[str, Any]:
    """Create ``repo`` if needed (and the ``revision`` branch), then upload the folder in one commit."""
    folder = Path(folder)
    if not (folder / WEIGHTS_NAME).is_file() or not (folder / CONFIG_NAME).is_file():
        raise WeightsError(
            f"{folder}: not a genedit folder (needs {WEIGHTS_NAME} and {CONFIG_NAME}; run 'genedit save')"
        )
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise UsageError(f"--repo {repo}: expected owner/name")
    api = api or hf_api()
    try:
        url = api.create_repo(repo_id=repo, repo_type="model", private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id=repo, branch=revision, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            repo_id=repo,
            folder_path=str(folder),
            repo_type="model",
            revision=revision,
            commit_message=message or f"Upload {folder.name} with genedit",
            allow_patterns=["*.safetensors", "*.json", "*.md", "*.onnx", "*.pt2"],
        )
    except Exception as exc:
        raise hub_error(f"push {folder} to hf://{repo}", exc) from exc
    return {
        "repo": repo,
        "url": str(url),
        "revision": revision or "main",
        "commit": str(getattr(commit, "oid", commit)),
    }


def _jsonable(data: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, (str, int, float, bool)) or v is None:
            out[k] = v
        elif isinstance(v, (list, tuple)) and all(isinstance(i, (str, int, float, bool)) for i in v):
            out[k] = list(v)
        elif isinstance(v, Mapping):
            out[k] = _jsonable(v)
        else:
            out[k] = str(v)
    return out
