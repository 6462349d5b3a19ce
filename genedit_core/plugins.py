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
from .errors import PluginError, UnknownModelError

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "distribution": self.distribution,
            "hooks": self.hooks,
            "models": self.models,
            "methods": self.methods,
            "error": self.error,
        }


@dataclass(frozen=True)
class Method:
    kind: str
    name: str
    summary: str
    plugin: str


class Registry:
    """Cards and methods by name, filled atomically per plugin."""

    def __init__(self) -> None:
        self.cards: dict[str, ModelCard] = {}
        self.aliases: dict[str, str] = {}
        self.methods: dict[tuple[str, str], Method] = {}

    def add_cards(self, plugin: str, cards: list[ModelCard]) -> None:
        """Add all of one plugin's cards or none of them; a clash names both owners."""
        staged: dict[str, str] = {}
        for card in cards:
            for key in (card.name, *card.aliases):
                owner = self.aliases.get(key.lower()) or staged.get(key.lower())
                if owner is not None:
                    other = self.cards[owner].plugin if owner in self.cards else plugin
                    raise PluginError(
                        f"plugin '{plugin}' registers model name '{key}', already taken by plugin '{other}'"
                    )
                staged[key.lower()] = card.name
        for card in cards:
            self.cards[card.name] = card.with_plugin(plugin)
        self.aliases.update(staged)

    def get(self, name: str) -> ModelCard:
        key = self.aliases.get(name.lower())
        if key is None:
            import difflib

            choices = sorted(self.aliases)
            close = difflib.get_close_matches(name.lower(), choices, n=3, cutoff=0.5)
            close += [c for c in choices if name.lower() in c and c not in close][: 3 - len(close)]
            # aliases map to their card's name; "edsr-base" and "edsr-baseline" are one suggestion
            raise UnknownModelError(name, list(dict.fromkeys(self.aliases.get(c, c) for c in close)))
        return self.cards[key]

    def list(self, task: str | None = None) -> list[ModelCard]:
        cards = sorted(self.cards.values(), key=lambda c: (c.family, c.name))
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
            except Exception as exc:  # a broken plugin must never take the CLI down
                self.infos[ep.name] = PluginInfo(ep.name, version, dist, error=_describe(exc))
                continue
            self.add(obj, ep.name, version=version, distribution=dist)

    def add(self, obj: Any, name: str, version: str = "?", distribution: str = "") -> PluginInfo:
        """Register one plugin object; on any failure unregister it and record the error."""
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
            mcaller(register=lambda kind, mname, summary: methods.append(Method(kind, mname, summary, name)))
            for card in cards:
                if not isinstance(card, ModelCard):
                    raise PluginError(f"register_models got {type(card).__name__}, expected ModelCard")
            self.registry.add_cards(name, cards)
            for m in methods:
                self.registry.methods[(m.kind, m.name)] = m
        except Exception as exc:
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            # pluggy names the plugin object by its repr (a module path, an address); use our name
            info.error = _describe(exc).replace(repr(obj), f"'{name}'").replace(str(obj), f"'{name}'")
            return info
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(obj) or [])
        info.models = [c.name for c in cards]
        info.methods = [f"{m.kind}:{m.name}" for m in methods]
        return info

    def _others(self, name: str) -> list[Any]:
        return [p for p in self.pm.get_plugins() if self.pm.get_name(p) != name]


def _allow_list() -> set[str] | None:
    raw = os.environ.get("GENEDIT_LOAD_PLUGINS")
    if raw is None:
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[str, metadata.EntryPoint] = {}
    for ep in eps:  # the same distribution can be visible twice (e.g. editable + site)
        seen.setdefault(ep.name, ep)
    return sorted(seen.values(), key=lambda e: e.name)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


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
