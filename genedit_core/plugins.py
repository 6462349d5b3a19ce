"""Plugin discovery: entry points in the ``genedit`` group, loaded once and each in isolation.

A plugin that fails to import or to register is recorded with its error and skipped; every other
command keeps working and ``genedit plugins`` shows what went wrong. ``GENEDIT_LOAD_PLUGINS`` is an
allow-list (comma-separated entry-point or distribution names; empty means none).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .cards import ModelCard
from .errors import GeneditError, PluginError, UnknownModelError, UsageError
from .options import Option

ENTRY_POINT_GROUP = "genedit"


@dataclass
class PluginInfo:
    name: str
    version: str
    distribution: str
    hooks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # added by its register_commands
    command_error: str | None = None  # why its register_commands failed (its models still work)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "models": self.models,
            "methods": self.methods,
            "error": self.error,
            "warnings": self.warnings,
            "commands": self.commands,
            "command_error": self.command_error,
        }


@dataclass(frozen=True)
class Method:
    """An optimize method or export format; ``options`` are the ``--key value`` options it reads."""

    kind: str
    name: str
    summary: str
    plugin: str
    options: tuple[Option, ...] = ()


class Registry:
    """Cards and methods by name.

    Every card is reachable as ``plugin:name``. A bare name or alias belongs to one card; when two
    plugins claim it, only the clashing card loses the bare name (it stays reachable qualified),
    never the rest of its plugin. Plugins released with the core outrank third-party ones, so
    installing a plugin can never displace ``bicubic`` or ``espcn``; between equals the first loaded wins.
    """

    def __init__(self) -> None:
        self.cards: dict[str, ModelCard] = {}  # "plugin:name" -> card
        self.aliases: dict[str, str] = {}  # bare lower-case name or alias -> "plugin:name"
        self.qualified: dict[str, str] = {}  # "plugin:key" (lower case) -> "plugin:name"
        self.rank: dict[str, int] = {}  # plugin -> 0 released with the core, 1 third party
        self.failed: dict[str, str] = {}  # plugin -> why it did not load
        self.methods: dict[tuple[str, str], Method] = {}

    def add_cards(self, plugin: str, cards: list[ModelCard], rank: int = 1) -> list[str]:
        """Add one plugin's cards; returns one line per name it could not take (and why)."""
        self.rank[plugin] = rank
        problems: list[str] = []
        for card in cards:
            keys = [k.lower() for k in (card.name, *card.aliases)]
            if dup := next((k for k in keys if f"{plugin}:{k}" in self.qualified or keys.count(k) > 1), None):
                problems.append(
                    f"plugin '{plugin}' registers model name '{dup}' twice; the second card is skipped"
                )
                continue
            qid = f"{plugin}:{card.name}"
            self.cards[qid] = card.with_plugin(plugin)
            for key in keys:
                self.qualified[f"{plugin}:{key}"] = qid
                holder = self.aliases.get(key)
                if holder is None:
                    self.aliases[key] = qid
                    continue
                other = holder.split(":", 1)[0]
                if rank < self.rank.get(other, 1):
                    self.aliases[key] = qid
                    loser, winner = holder, qid
                else:
                    loser, winner = qid, holder
                problems.append(
                    f"model name '{key}' is registered by plugins '{winner.split(':', 1)[0]}' and "
                    f"'{loser.split(':', 1)[0]}'; '{key}' means {winner}, use {loser.split(':', 1)[0]}:{key} "
                    "for the other"
                )
        return problems

    def get(self, name: str) -> ModelCard:
        """A card by bare name, alias, or ``plugin:name``."""
        plugin, sep, rest = name.partition(":")
        if sep:
            qid = self.qualified.get(f"{plugin.lower()}:{rest.lower()}")
            if qid is not None:
                return self.cards[qid]
            if plugin in self.failed:
                raise UsageError(
                    f"model '{name}': plugin '{plugin}' failed to load ({self.failed[plugin]}); see 'genedit plugins'"
                )
            if plugin not in self.rank:
                raise UsageError(
                    f"model '{name}': no plugin named '{plugin}' is loaded; see 'genedit plugins'"
                )
        key = self.aliases.get((rest if sep else name).lower())
        if key is None:
            import difflib

            wanted = (rest if sep else name).lower()
            choices = sorted(self.aliases)
            close = difflib.get_close_matches(wanted, choices, n=3, cutoff=0.5)
            close += [c for c in choices if wanted in c and c not in close][: 3 - len(close)]
            # aliases map to their card's name; "edsr-base" and "edsr-baseline" are one suggestion
            names = [self.cards[self.aliases[c]].name for c in close]
            raise UnknownModelError(name, list(dict.fromkeys(names)), failed=sorted(self.failed))
        if sep and not key.startswith(f"{plugin.lower()}:"):
            raise UsageError(f"model '{name}': plugin '{plugin}' has no such model (it is {key})")
        return self.cards[key]

    def list(self, task: str | None = None) -> list[ModelCard]:
        cards = sorted(self.cards.values(), key=lambda c: (c.family, c.name, c.plugin or ""))
        return [c for c in cards if task is None or task in c.tasks]


class GeneditPlugins:
    """The loaded plugin set: a pluggy manager plus the registry it produced."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()
        self.infos: dict[str, PluginInfo] = {}

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def load_entry_points(self) -> None:
        allow = _allow_list()
        for ep in _entry_points():
            dist = ep.dist.name if ep.dist is not None else ""
            if allow is not None and ep.name not in allow and dist not in allow:
                continue
            version = ep.dist.version if ep.dist is not None else "?"
            try:
                obj = ep.load()
            except BaseException as exc:  # a broken plugin (even sys.exit at import) never takes the CLI down
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.infos[ep.name] = PluginInfo(ep.name, version, dist, error=_describe(exc))
                self.registry.failed[ep.name] = self.infos[ep.name].error or "failed"
                continue
            self.add(obj, ep.name, version=version, distribution=dist)

    def add(
        self,
        obj: Any,
        name: str,
        version: str = "?",
        distribution: str = "",
        released_with_core: bool | None = None,
    ) -> PluginInfo:
        """Register one plugin object; on any failure unregister it and record the error.

        ``released_with_core`` decides who keeps a bare model name on a clash; by default it is read
        from the distribution (see :func:`released_with_core`).
        """
        if released_with_core is None:
            released_with_core = is_released_with_core(distribution, version)
        info = PluginInfo(name, version, distribution)
        self.infos[name] = info
        try:
            self.pm.register(obj, name=name)
            self.pm.check_pending()
            cards: list[ModelCard] = []
            methods: list[Method] = []
            caller = self.pm.subset_hook_caller("register_models", remove_plugins=self._others(name))
            caller(register=cards.append)
            mcaller = self.pm.subset_hook_caller("register_methods", remove_plugins=self._others(name))
            mcaller(
                register=lambda kind, mname, summary, options=(): methods.append(
                    Method(kind, mname, summary, name, tuple(options))
                )
            )
            for card in cards:
                if not isinstance(card, ModelCard):
                    raise PluginError(f"register_models got {type(card).__name__}, expected ModelCard")
            for card in cards:
                if ":" in card.name or any(":" in a for a in card.aliases):
                    raise PluginError(f"model name '{card.name}': ':' is reserved for plugin:model")
            for m in methods:
                if not all(isinstance(o, Option) for o in m.options):
                    raise PluginError(
                        f"{m.kind} method '{m.name}': options must be genedit_core.options.Option"
                    )
            info.warnings = self.registry.add_cards(name, cards, rank=0 if released_with_core else 1)
            for m in methods:
                self.registry.methods[(m.kind, m.name)] = m
        except Exception as exc:
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            # pluggy names the plugin object by its repr (a module path, an address); use our name
            info.error = _describe(exc).replace(repr(obj), f"'{name}'").replace(str(obj), f"'{name}'")
            self.registry.failed[name] = info.error
            return info
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(obj) or [])
        info.models = [c.name for c in cards]
        info.methods = [f"{m.kind}:{m.name}" for m in methods]
        return info

    def owner_hook(self, hook_name: str, card: ModelCard) -> Any:
        """The hook ``hook_name`` restricted to the plugin that registered ``card``.

        Model-specific work (load_model, edit, generate, train, evaluate) goes to the card's owner
        only, so plugins never check whose card a request is for. A card whose plugin is not loaded
        (made up by a caller, or its plugin left out) is a :class:`PluginError`: no other plugin
        may answer for it.

        Whatever the hook raises other than a :class:`GeneditError` (a plugin's ``ValueError``,
        ``KeyError``, even ``sys.exit``) comes out as a :class:`PluginError` naming the plugin, the
        hook and the model, with the original as its ``__cause__``; Ctrl-C passes through.
        """
        if not card.plugin or self.pm.get_plugin(card.plugin) is None:
            raise PluginError(
                f"model '{card.name}': its plugin '{card.plugin or '?'}' is not loaded, and no other "
                f"plugin runs its {hook_name} hook; see 'genedit plugins'"
            )
        caller = self.pm.subset_hook_caller(hook_name, remove_plugins=self._others(card.plugin))
        owner = card.plugin

        def call(**kwargs: Any) -> Any:
            try:
                return caller(**kwargs)
            except GeneditError:
                raise
            except (Exception, SystemExit) as exc:
                raise PluginError(
                    f"plugin '{owner}' failed in its {hook_name} hook for model '{card.name}': {_describe(exc)}"
                ) from exc

        return call

    def per_plugin(self, hook_name: str) -> list[tuple[PluginInfo, Any]]:
        """Every loaded plugin that implements ``hook_name``, in load order, each with a caller of
        its own implementation only.

        ``pm.hook.X(...)`` calls all plugins in one go and stops at the first exception, so one
        broken plugin would cost every plugin after it. Hooks each plugin answers for itself, such
        as ``register_commands``, are called through this instead: the caller records a failure on
        that plugin's :class:`PluginInfo` and goes on with the next plugin.
        """
        caller = getattr(self.pm.hook, hook_name)
        implementing = {impl.plugin_name for impl in caller.get_hookimpls()}
        return [
            (info, self.pm.subset_hook_caller(hook_name, remove_plugins=self._others(name)))
            for name, info in self.infos.items()
            if info.error is None and name in implementing
        ]

    def _others(self, name: str) -> list[Any]:
        return [p for p in self.pm.get_plugins() if self.pm.get_name(p) != name]


def _allow_list() -> set[str] | None:
    raw = os.environ.get("GENEDIT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def is_released_with_core(distribution: str, version: str) -> bool:
    """A ``genedit-*`` distribution at the core's own version: released from this repository.

    Distribution names are unique in an environment, and first-party plugins are versioned in
    lockstep with the core, so this needs no list of plugins in the core.
    """
    from ._version import __version__

    return distribution.lower().startswith("genedit-") and version == __version__


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in eps:  # the same distribution can be visible twice (e.g. editable + site)
        seen.setdefault(ep.name, ep)

    def order(ep: metadata.EntryPoint) -> tuple[int, str]:
        dist, version = (ep.dist.name, ep.dist.version) if ep.dist is not None else ("", "")
        return (0 if is_released_with_core(dist, version) else 1, ep.name)

    return sorted(seen.values(), key=order)


def describe_error(exc: BaseException) -> str:
    """One line for a plugin's failure, as ``genedit plugins`` shows it: ``TypeError: first line``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


_describe = describe_error


_PLUGINS: GeneditPlugins | None = None


def get_plugins() -> GeneditPlugins:
    """The process-wide plugin set, loaded on first use."""
    global _PLUGINS
    if _PLUGINS is None:
        plugins = GeneditPlugins()
        plugins.load_entry_points()
        _PLUGINS = plugins
    return _PLUGINS


def reset_plugins(plugins: GeneditPlugins | None = None) -> None:
    """Forget the loaded plugins (tests use this to install inline plugins)."""
    global _PLUGINS
    _PLUGINS = plugins
