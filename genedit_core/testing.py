"""Testing genedit plugins: run code with exactly the plugins you name, and the conformance check.

This module is a pytest plugin: the ``genedit`` distribution registers it under the ``pytest11``
entry point, so any pytest run in an environment with genedit installed has the
``genedit_conformance`` fixture. A plugin's whole conformance test is::

    import pytest
    from genedit_core.testing import conformance_cases

    @pytest.mark.parametrize("case", conformance_cases("myplugin"))
    def test_conformance(case, genedit_conformance):
        genedit_conformance(case)

``conformance_cases(NAME)`` finds the installed entry point ``NAME`` of group ``genedit`` and makes
one case per check, so each passes, fails or is marked on its own:

* ``NAME:import``: importing the entry-point module in a fresh interpreter does not import torch
  (``genedit list`` and ``--help`` import it), and the plugin's package imports genedit only
  through ``genedit_core.sdk`` (``genedit_cli.sdk`` for commands), whose names are the promise.
* ``NAME:names``: the plugin registers on its own (hook names known, cards valid), declares its
  options (each method's, and each card's per task) as typed :class:`~genedit_core.options.Option` s
  with defaults of their type and within their range, none named like a front end's own option
  (``--out-dir``, ``--seeds``, ...), and no model name, alias or method name clashes with another
  installed plugin's.
* ``NAME:CARD`` for every card: tiny random weights in the card's default layout, from the
  plugin's ``tiny_weights`` hook, are written to a file (with ``config.json``), loaded through
  :func:`genedit_core.load` on the CPU in fp32, and every task of the card is run once on a small
  input; outputs must be float32 image tensors of the right shape (``scale`` × the input for
  ``upscale``, one per seed for ``generate``) with values in 0–1, and the same seed must give the
  same image. Each task call gets the defaults the card declares for it, so a declared default the
  plugin cannot take fails here. A task the card declares a ``tiled_forward`` must give exactly
  the tiler's output clamped to the stated range (the warm path runs that instead of the hook). Cards that need no weights are loaded without any when the plugin
  gives none.

A case that cannot pass yet is marked in the test, never skipped:
``conformance_cases("sr", xfail={"realesrgan": "why"})`` (strict: it fails once it passes).

Why these checks: they are what genedit relies on from every plugin, so a plugin that passes them
works with ``genedit run``, ``generate``, the Python API and the tools that feed models generically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from .plugins import ENTRY_POINT_GROUP, GeneditPlugins, reset_plugins

if TYPE_CHECKING:
    import torch

    from .cards import ModelCard
    from .model import LoadedModel

__all__ = [
    "ConformanceCase",
    "ConformanceError",
    "check_plugin",
    "conformance_cases",
    "genedit_conformance",
    "plugins_installed",
    "run_cli",
]

#: Range tolerance for outputs: 0–1 up to float rounding.
RANGE_EPS = 1e-5


@contextmanager
def plugins_installed(**plugins: Any) -> Iterator[GeneditPlugins]:
    """``with plugins_installed(sr=genedit_sr.plugin, mine=MyPlugin()) as p: ...``

    Installed entry-point plugins are ignored inside the block, so a test sees only what it set up,
    and the process-wide plugin set is restored afterwards even if the test fails.
    """
    p = GeneditPlugins()
    for name, obj in plugins.items():
        info = p.add(obj, name)
        if info.error is not None:
            raise AssertionError(f"plugin '{name}' failed to register: {info.error}")
    reset_plugins(p)
    try:
        yield p
    finally:
        reset_plugins(None)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``genedit ARGV`` run in this process: ``(exit code, stdout, stderr)``.

    In-process is fast (torch stays imported between calls) and sees exactly the plugins a test set
    up with :func:`plugins_installed`, so a plugin's ``cli`` fixture is
    ``functools.partial(run_cli, capsys)``. ``genedit_cli`` is imported here, not at module level,
    so the core never needs the CLI installed to import this module.
    """
    from genedit_cli.app import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    captured = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else (0 if code is None else 1)), captured.out, captured.err


class ConformanceError(AssertionError):
    """A plugin broke the contract; the message has one line per problem."""


@dataclass(frozen=True)
class _Plugin:
    """The plugin under test: its entry-point name, the registered object and its module's name."""

    name: str
    obj: Any
    module: str


def _find_plugin(plugin: str | ModuleType, name: str | None) -> _Plugin:
    if isinstance(plugin, ModuleType):
        if not name:
            raise ValueError(f"a plugin given as module {plugin.__name__} needs name= (its entry-point name)")
        return _Plugin(name, plugin, plugin.__name__)
    from importlib import metadata

    eps = [ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == plugin]
    if not eps:
        have = sorted({ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)})
        raise ConformanceError(
            f"no installed plugin has entry point '{plugin}' in group '{ENTRY_POINT_GROUP}' "
            f"(installed: {', '.join(have) or 'none'}); install the package first (pip install -e .)"
        )
    return _Plugin(plugin, eps[0].load(), eps[0].module)


@dataclass(frozen=True)
class ConformanceCase:
    """One check of one plugin: ``kind`` is ``import``, ``names`` or ``card`` (with ``card``)."""

    plugin: str
    kind: str
    card: str | None = None
    module: ModuleType | None = None  # set when the plugin was given as a module, not installed

    @property
    def id(self) -> str:
        return f"{self.plugin}:{self.card if self.kind == 'card' else self.kind}"

    def __str__(self) -> str:
        return self.id

    def run(self, workdir: Path) -> None:
        """Run the check, writing any files under ``workdir``; raise :class:`ConformanceError`."""
        plugin = _find_plugin(self.module if self.module is not None else self.plugin, self.plugin)
        if self.kind == "import":
            problems = _check_import(plugin)
        elif self.kind == "names":
            problems = _check_names(plugin)
        else:
            assert self.card is not None
            problems = _check_card(plugin, self.card, Path(workdir))
        if problems:
            raise ConformanceError(f"{self.id}: " + "\n".join(problems))


def _cards_of(plugin: _Plugin) -> list[ModelCard]:
    with plugins_installed(**{plugin.name: plugin.obj}) as p:
        return [c for c in p.registry.list() if c.plugin == plugin.name]


def conformance_cases(
    plugin: str | ModuleType, *, xfail: Mapping[str, str] | None = None, name: str | None = None
) -> list[Any]:
    """The conformance checks of ``plugin``, as ``pytest.param`` s for ``@pytest.mark.parametrize``.

    ``plugin`` is an installed entry-point name (``"sr"``), or a module not installed yet with
    ``name`` the entry-point name it will have. ``xfail`` maps a case (``"import"``, ``"names"`` or
    a card name) to the reason it cannot pass yet; a key that names no case is an error, so a
    renamed card cannot hide a stale mark.
    """
    found = _find_plugin(plugin, name)
    module = plugin if isinstance(plugin, ModuleType) else None
    cases = [
        ConformanceCase(found.name, "import", module=module),
        ConformanceCase(found.name, "names", module=module),
    ]
    try:
        cards = _cards_of(found)
    except AssertionError:  # it does not register: the names case fails and says why
        cards = []
    cases += [ConformanceCase(found.name, "card", c.name, module=module) for c in cards]
    marks = dict(xfail or {})
    unknown = sorted(set(marks) - {c.card if c.kind == "card" else c.kind for c in cases})
    if unknown:
        raise ValueError(f"conformance_cases('{found.name}', xfail=...): no case named {', '.join(unknown)}")
    params = []
    for case in cases:
        key = case.card if case.kind == "card" else case.kind
        reason = marks.get(key or "")
        extra = [pytest.mark.xfail(reason=reason, raises=ConformanceError, strict=True)] if reason else []
        params.append(pytest.param(case, id=case.id, marks=extra))
    return params


def check_plugin(plugin: str | ModuleType, workdir: Path, *, name: str | None = None) -> None:
    """Every conformance case of ``plugin`` in one call; raises one error listing every failure."""
    failures = []
    for param in conformance_cases(plugin, name=name):
        case: ConformanceCase = param.values[0]
        try:
            case.run(Path(workdir) / case.id.replace(":", "_"))
        except ConformanceError as exc:
            failures.append(str(exc))
    if failures:
        raise ConformanceError("\n".join(failures))


@pytest.fixture
def genedit_conformance(tmp_path: Path) -> Callable[[ConformanceCase], None]:
    """``genedit_conformance(case)`` runs one case from :func:`conformance_cases` in ``tmp_path``."""

    def run(case: ConformanceCase) -> None:
        case.run(tmp_path)

    return run


# -- the checks ----------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    """The environment for a fresh interpreter that finds what this one finds (tmp folders too)."""
    env = dict(os.environ)
    paths = [p for p in sys.path if p and Path(p).exists()]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _check_import(plugin: _Plugin) -> list[str]:
    code = (
        f"import {plugin.module}, sys; "
        "heavy = [m for m in ('torch', 'torchvision', 'numpy', 'PIL') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_child_env(), timeout=120
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [f"importing {plugin.module} fails in a fresh interpreter: {last}"]
    heavy = [m for m in proc.stdout.strip().split(",") if m]
    problems = _private_imports(plugin)
    if "torch" in heavy:
        problems.insert(
            0,
            f"importing {plugin.module} imports torch ({', '.join(heavy)} loaded): genedit list and "
            "--help import it, so import torch and networks inside hook bodies",
        )
    return problems


#: What a plugin may import from genedit itself: the SDKs, and this test kit.
PUBLIC_MODULES = ("genedit_core.sdk", "genedit_core.testing", "genedit_cli.sdk")


def _private_imports(plugin: _Plugin) -> list[str]:
    """``file:line`` of every import of genedit's private modules in the plugin's own package.

    Everything outside :data:`PUBLIC_MODULES` may change in any release, so a plugin that reaches
    into it breaks on an upgrade; ``import genedit_core`` alone (the user-level API) is allowed.
    """
    import ast
    from importlib.util import find_spec

    spec = find_spec(plugin.module.split(".")[0])
    if spec is None:
        return []
    roots = [Path(p) for p in (spec.submodule_search_locations or [])]
    files = sorted(f for r in roots for f in r.rglob("*.py")) if roots else [Path(spec.origin or "")]
    problems = []
    for path in files:
        if not path.is_file():
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be parsed ({exc})")
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names if a.name not in ("genedit_core", "genedit_cli")]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ("genedit_core", "genedit_cli") and name not in PUBLIC_MODULES:
                    where = path.relative_to(roots[0].parent) if roots else path.name
                    problems.append(
                        f"{where}:{node.lineno} imports {name}; plugins import genedit_core.sdk "
                        "(genedit_cli.sdk for commands): the rest is private"
                    )
    return problems


def _check_names(plugin: _Plugin) -> list[str]:
    problems: list[str] = []
    alone = GeneditPlugins()
    info = alone.add(plugin.obj, plugin.name)
    if info.error is not None:
        return [f"does not register: {info.error}"]
    problems += [f"registration: {w}" for w in info.warnings]
    for (kind, mname), method in alone.registry.methods.items():
        problems += _option_problems(f"{kind} method '{mname}'", method.options)
    for card in alone.registry.list():
        for task, options in card.options.items():
            what = f"card '{card.name}' task '{task}'"
            problems += _option_problems(what, options)
            problems += _reserved_problems(what, task, options)
        for task, options in card.eval_options.items():
            what = f"card '{card.name}' eval task '{task}'"
            problems += _option_problems(what, options)
            problems += _reserved_problems(what, "eval", options)
    problems += _clashes(plugin, alone)
    return problems


def _option_problems(what: str, options: Any) -> list[str]:
    from .options import Option

    problems = []
    seen: set[str] = set()
    for option in options:
        if not isinstance(option, Option):
            problems.append(f"{what}: option {option!r} is not a genedit_core.options.Option")
            continue
        if option.name in seen:
            problems.append(f"{what}: option {option.flag} is declared twice")
        seen.add(option.name)
        if option.default is None:
            continue
        if option.choices and option.default not in option.choices:
            problems.append(f"{what}: {option.flag} default {option.default!r} is not one of its choices")
        low, high = getattr(option, "low", None), getattr(option, "high", None)
        number = isinstance(option.default, (int, float)) and not isinstance(option.default, bool)
        if number and (
            (low is not None and option.default < low) or (high is not None and option.default > high)
        ):
            problems.append(f"{what}: {option.flag} default {option.default!r} is outside its range")
        ok = isinstance(option.default, option.type) and not (
            option.type is not bool and isinstance(option.default, bool)
        )
        if option.type is float and isinstance(option.default, int) and not isinstance(option.default, bool):
            ok = True
        if not ok:
            problems.append(
                f"{what}: {option.flag} is {option.type.__name__} but its default is {option.default!r}"
            )
    return problems


def _reserved_problems(what: str, task: str, options: Any) -> list[str]:
    """A task option named like the front ends' own (``--out-dir``, ``--seeds``) would never arrive."""
    from .options import Option, reserved_for

    taken = reserved_for(task)
    return [
        f"{what}: {o.flag} is genedit's own option for this task; give the option another name"
        for o in options
        if isinstance(o, Option) and o.name in taken
    ]


def _declared_defaults(card: ModelCard, task: str) -> dict[str, Any]:
    """The defaults ``card`` declares for ``task`` (options whose default is decided at run time
    are left out, as a user who does not give them would)."""
    return {o.name: o.default for o in card.task_options(task) if o.default is not None}


def _clashes(plugin: _Plugin, alone: GeneditPlugins) -> list[str]:
    """Names the plugin shares with another installed plugin (on a clash one of them loses the name)."""
    everyone = GeneditPlugins()
    saved = os.environ.pop("GENEDIT_LOAD_PLUGINS", None)  # every installed plugin, whatever the shell says
    try:
        everyone.load_entry_points()
    finally:
        if saved is not None:
            os.environ["GENEDIT_LOAD_PLUGINS"] = saved
    mine_keys = {k.lower(): card.name for card in alone.registry.list() for k in (card.name, *card.aliases)}
    mine_methods = set(alone.registry.methods)
    problems = []
    for other, info in everyone.infos.items():
        if other == plugin.name or info.error is not None:
            continue
        for card in everyone.registry.list():
            if card.plugin != other:
                continue
            for key in (card.name, *card.aliases):
                if key.lower() in mine_keys:
                    problems.append(
                        f"model name '{key}' ({mine_keys[key.lower()]}) is also registered by plugin '{other}'"
                    )
        for kind, mname in (m.split(":", 1) for m in info.methods):
            if (kind, mname) in mine_methods:
                problems.append(f"{kind} method '{mname}' is also registered by plugin '{other}'")
    return problems


def _default_scale(card: ModelCard) -> int | None:
    from .api import check_scale

    return check_scale(card, None)


def _write_tiny(plugin: _Plugin, plugins: GeneditPlugins, card: ModelCard, scale: int | None, folder: Path):
    """The plugin's tiny weights for ``card`` as a file (+ config.json); None when it gives none."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)  # tiny_weights draws random tensors: the same ones on every run
    tiny = plugins.owner_hook("tiny_weights", card)(card=card, scale=scale)
    if tiny is None:
        return None
    if not isinstance(tiny, Mapping) or not isinstance(tiny.get("state_dict"), Mapping):
        raise ConformanceError(
            f"tiny_weights returned {type(tiny).__name__}, expected {{'state_dict': ..., 'config': ...}}"
        )
    state = tiny["state_dict"]
    bad = [k for k, v in state.items() if not isinstance(v, torch.Tensor)]
    if bad or not state:
        raise ConformanceError(
            f"tiny_weights: state_dict must map names to tensors (bad: {bad[:3] or 'empty'})"
        )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.safetensors"
    save_file({k: v.detach().cpu().contiguous().clone() for k, v in state.items()}, str(path))
    if tiny.get("config"):
        (folder / "config.json").write_text(json.dumps(dict(tiny["config"])), encoding="utf-8")
    return path


def _check_card(plugin: _Plugin, card_name: str, workdir: Path) -> list[str]:

    from .api import load
    from .errors import GeneditError

    problems: list[str] = []
    with plugins_installed(**{plugin.name: plugin.obj}) as plugins:
        card = plugins.registry.get(f"{plugin.name}:{card_name}")
        scale = _default_scale(card)
        implements = "tiny_weights" in (plugins.infos[plugin.name].hooks or [])
        try:
            weights = _write_tiny(plugin, plugins, card, scale, workdir / card.name) if implements else None
        except GeneditError as exc:
            return [f"tiny_weights failed: {exc}"]
        if weights is None and card.needs_weights:
            return [
                "the card needs weights but the plugin's tiny_weights hook gives none for it: implement "
                "tiny_weights(card, scale) returning {'state_dict': ..., 'config': ...} in the default layout"
            ]
        try:
            model = load(
                f"{plugin.name}:{card.name}",
                weights=str(weights) if weights else None,
                scale=scale,
                device="cpu",
                dtype="fp32",
            )
        except GeneditError as exc:
            return [
                f"loading {'tiny weights' if weights else 'without weights'} through genedit_core.load: {exc}"
            ]
        problems += _model_problems(model, card, scale)
        for task in card.tasks:
            try:
                problems += _run_task(model, task)
            except GeneditError as exc:
                problems.append(f"task '{task}': {exc}")
    return problems


def _model_problems(model: Any, card: ModelCard, scale: int | None) -> list[str]:
    import torch

    from .model import LoadedModel

    if not isinstance(model, LoadedModel):
        return [f"load_model returned {type(model).__name__}, not a LoadedModel"]
    problems = []
    if model.card.name != card.name:
        problems.append(f"load_model returned a model for card '{model.card.name}'")
    if card.scales and scale is not None and model.scale != scale:
        problems.append(f"loaded at x{model.scale}, but x{scale} was asked for")
    if model.dtype != torch.float32:
        problems.append(f"--dtype fp32 gave a model in {model.dtype}")
    return problems


def _random_images(model: LoadedModel, count: int) -> list[torch.Tensor]:
    """Small non-square inputs on the model's size grid (sizes that break padding bugs)."""
    import torch

    g = torch.Generator().manual_seed(0)
    m = max(1, int(model.size_multiple))
    h = max(int(model.min_size), -(-20 // m) * m)
    w = max(int(model.min_size), -(-28 // m) * m)
    channels = model.in_channels if model.in_channels in (1, 3) else 3
    return [torch.rand(1, channels, h, w, generator=g) for _ in range(count)]


def _output_problems(task: str, outputs: list[Any]) -> list[str]:
    import torch

    problems = []
    for y in outputs:
        if y.dtype != torch.float32:
            problems.append(f"task '{task}' returned {y.dtype} for an fp32 model, not torch.float32")
        lo, hi = float(y.min()), float(y.max())
        if lo < -RANGE_EPS or hi > 1 + RANGE_EPS:
            problems.append(
                f"task '{task}' returned values in [{lo:.4g}, {hi:.4g}], outside 0–1 (clamp them)"
            )
    return problems


def _run_task(model: LoadedModel, task: str) -> list[str]:
    import torch

    from .options import check_task_params
    from .pipeline import _call_edit, _request, is_group_task

    defaults = check_task_params(model.card, task, _declared_defaults(model.card, task))
    if task == "generate":
        images = model.generate([0, 1], **defaults)
        problems = _output_problems(task, [images])
        again = model.generate([1], **defaults)
        if again.shape != images[1:].shape or not torch.allclose(again, images[1:], atol=1e-5):
            problems.append("task 'generate': seed 1 gives another image alone than next to seed 0")
        return problems
    request = _request(model, task, None, None, defaults, None)
    inputs = _random_images(model, 2 if is_group_task(model, task) else 1)
    if is_group_task(model, task):
        request.images = inputs
    else:
        request.image = inputs[0]
    with torch.no_grad():
        outputs = _call_edit(request)
    problems = _output_problems(task, outputs)
    if task in model.card.tiled_forward:
        problems += _tiled_forward_problems(model, task, inputs[0], outputs)
    return problems


def _tiled_forward_problems(model: LoadedModel, task: str, x: torch.Tensor, outputs: list[Any]) -> list[str]:
    """A card's ``tiled_forward`` statement, checked: ``edit`` gave exactly the tiled forward,
    clamped to the stated range (the warm path runs that instead of the hook)."""
    import torch

    from .tiling import run_with_oom_retry

    low, high = model.card.tiled_forward[task]
    with torch.no_grad():
        want = run_with_oom_retry(model, x, None).clamp(low, high)
    got = outputs[0] if len(outputs) == 1 else None
    if got is not None and got.dim() == 3:
        got = got[None]
    if got is None or got.shape != want.shape or not torch.equal(got.float(), want):
        diff = (
            "a different shape"
            if got is None or got.shape != want.shape
            else f"{float((got - want).abs().max()):.3g}"
        )
        return [
            f"task '{task}': the card declares it a tiled forward (ModelCard.tiled_forward), but its "
            f"output differs from the tiler's clamped to {low}–{high} by {diff}"
        ]
    return []
