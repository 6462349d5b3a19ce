"""The Python API: ``genedit_core.load("edsr", scale=2).upscale(image)``.

``load`` is the one loader every command uses: find the card, pick device and dtype, resolve the
weights (variant, Hub, local file or folder, training run, exported file), read them once, let the
owning plugin build the network, and let a method's plugin finish what the method changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .errors import GeneditError, PluginError, UsageError

if TYPE_CHECKING:
    from .cards import ModelCard
    from .model import LoadedModel
    from .requests import LoadRequest
    from .weights import ResolvedWeights


class GeneditWarning(UserWarning):
    """Something the user should see, e.g. that bundled weights ran instead of the Hub ones."""


def get_card(name: str) -> ModelCard:
    from .plugins import get_plugins

    return get_plugins().registry.get(name)


def list_models(task: str | None = None) -> list[ModelCard]:
    from .plugins import get_plugins

    return get_plugins().registry.list(task)


def check_scale(card: ModelCard, scale: int | None) -> int | None:
    if scale is None:
        return card.scale_when_unset
    if card.scales and scale not in card.scales and not card.any_scale:
        have = ", ".join(f"x{s}" for s in card.scales)
        raise UsageError(f"model '{card.name}' has no x{scale} (it has {have})")
    if scale < 1:
        raise UsageError(f"--scale must be a positive integer, got {scale}")
    return scale


BACKEND_GROUP = "genedit.backends"
BACKEND_SUFFIXES = {".onnx": "onnxruntime"}


def find_backend(backend: str) -> Any:
    """The runtime entry point ``backend`` of the ``genedit.backends`` group.

    A backend is one of two kinds (the core knows no runtime by name, only the group):

    * a callable ``(path, *, card, device, weights) -> LoadedModel`` that runs a file PyTorch does
      not (genedit-compress provides ``onnxruntime``); ``weights`` is the
      :class:`~genedit_core.weights.ResolvedWeights` the core already made of it, so the backend
      neither resolves nor hashes the file again;
    * an object (a module will do) with ``convert(model) -> LoadedModel``
      (:class:`~genedit_core.hooktypes.ModuleBackend`): it runs the network the owner built from
      any weights in another runtime (genedit-openvino), so it needs no exported file.
    """
    from importlib import metadata

    eps = {ep.name: ep for ep in metadata.entry_points(group=BACKEND_GROUP)}
    if backend not in eps:
        have = ", ".join(sorted(eps)) or "none installed"
        raise UsageError(f"--backend {backend}: no such backend (available: auto, torch, {have})")
    return eps[backend].load()


def load(
    name: str,
    *,
    scale: int | None = None,
    weights: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    backend: str = "torch",
    input_size: tuple[int, int] | None = None,
    **options: Any,
) -> LoadedModel:
    """Build a ready-to-run model from any weights genedit knows; see ``genedit info NAME``.

    This is the one loader: every command and the Python API come here, and nothing else builds a
    model from weights. It goes in four steps, each in one place:

    1. **resolve** ``weights`` to one local file (:func:`genedit_core.weights.resolve_weights`): a
       variant of the card, ``hf://owner/repo[/file][@rev]``, a file, or a folder (one that
       ``genedit save``/``optimize`` wrote, whose ``config.json`` may name the file under
       ``genedit.file``, or a training run's ``checkpoints/best.safetensors``).
    2. **read** it once: a file another runtime runs (``backend=``, or a suffix such as ``.onnx``)
       goes to that runtime's entry point in ``genedit.backends``, which returns the model; any
       other file is read safely into tensors and canonicalised.
    3. **build**: the card's owning plugin, and no other, turns the tensors into a network
       (its ``load_model`` hook).
    4. **transform**: when the weights' ``config.json`` names a method under ``genedit.transform``
       (layers a pruning removed, an int8 program), the plugin that answers ``transform_model`` for
       that method finishes the model, asking the owner to build it and reading the tensors only
       when it needs them.
    5. **convert**, only when ``backend`` names a runtime that converts built networks (a
       :class:`~genedit_core.hooktypes.ModuleBackend` such as ``openvino``): it takes the model
       from steps 1–4, whatever its weights, and returns the model it runs, or the torch model
       with a warning saying why the network did not convert. ``model.backend`` says which ran.

    ``backend="auto"`` (``genedit run``'s default) picks the runtime measured fastest for this
    model, device, dtype and the size bucket of ``input_size`` (H, W of the images to come), from
    the table ``genedit bench MODEL --compare`` fills, else torch
    (:mod:`genedit_core.autobackend`); the reason is logged, and ``model.backend`` is what ran.
    A file another runtime runs (``.onnx``) still goes to that runtime.
    """
    from pathlib import Path

    from .device import choose_device, choose_dtype
    from .plugins import get_plugins
    from .requests import LoadRequest
    from .weights import resolve_weights

    plugins = get_plugins()
    card = plugins.registry.get(name)
    explicit_scale = scale is not None
    scale = check_scale(card, scale)
    # Wrong requests fail before any download: an unknown backend, a bad --device/--dtype.
    runner = find_backend(backend) if backend not in ("torch", "auto") else None
    runner_name = backend
    converter = getattr(runner, "convert", None) if runner is not None else None
    if converter is not None:  # runs the built network: the torch steps below come first
        runner = None
    elif runner is not None and weights is None:
        raise UsageError(f"--backend {backend} needs --weights FILE (an exported model)")
    dev = choose_device(device)
    dt = choose_dtype(dtype, dev, card)
    is_file_spec = weights is not None and card.variant(weights) is None

    # 1. resolve
    resolved = resolve_weights(card, weights, None if is_file_spec else scale)
    if resolved is not None and resolved.warning:
        warnings.warn(resolved.warning, GeneditWarning, stacklevel=2)
    if runner is None and resolved is not None and Path(resolved.path).suffix.lower() in BACKEND_SUFFIXES:
        runner_name = BACKEND_SUFFIXES[Path(resolved.path).suffix.lower()]
        runner = find_backend(runner_name)
        if backend == "auto":
            _log_auto(runner_name, f"{resolved.origin} is a {Path(resolved.path).suffix} file, which it runs")

    # 2. read (or hand the file to the runtime that runs it)
    if runner is not None:
        assert resolved is not None
        model = runner(str(resolved.path), card=card, device=device, weights=resolved)
        model.backend = runner_name
    else:
        request = LoadRequest(
            card, resolved, None, scale if (explicit_scale or not is_file_spec) else None, dev, dt, options
        )
        method = transform_method(resolved.config) if resolved is not None else None
        with one_cpu_thread(dev):
            if method is None:
                # 3. build
                model = _owner_build(plugins, request, read_state(card, resolved))
            else:
                # 3 and 4: the method's transform asks the owner to build, and reads when it needs to
                model = _transform(plugins, method, request)
    if explicit_scale and card.scales and model.scale != scale:
        raise UsageError(
            f"{resolved.origin if resolved else card.name}: weights are x{model.scale}, but x{scale} was asked for"
        )
    model.weights = resolved
    if backend == "auto" and runner is None:  # decided on the built model: its real scale and dtype
        made_by = transform_method(resolved.config) if resolved is not None else None
        backend, converter = _resolve_auto(model, input_size, made_by)
    if converter is not None:
        model = _convert(converter, backend, model)
    return model


@contextmanager
def one_cpu_thread(device: Any) -> Iterator[None]:
    """Run the block with one torch CPU thread, then restore the count.

    Why: building a model is hundreds of small tensor operations (copying each weight in, casting
    it to the chosen dtype, re-laying it out channels-last), far too small to gain from a second
    thread. Under load they lose instead: every parallel region waits for a busy core, and on the
    2-core build machine at a load average of 7 EDSR-baseline's build took 2.2 s with 2 threads
    against 6 ms with one. The count is process-wide, so it is restored even when the build fails.
    Only on the CPU: a CUDA build's copies do not use these threads.
    """
    if getattr(device, "type", str(device)) != "cpu":
        yield
        return
    import torch

    threads = torch.get_num_threads()
    if threads > 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if threads > 1:
            torch.set_num_threads(threads)


def _resolve_auto(model: LoadedModel, size: tuple[int, int] | None, made_by: str | None) -> tuple[str, Any]:
    """``auto`` resolved: the runtime's name and its ``convert`` (``None`` for torch), logged with why.

    Weights a method made (an int8 program, a pruned network) are another network than the one
    the table measured, so they stay in torch.
    """
    from .autobackend import BackendChoice, resolve_auto
    from .device import dtype_name

    if made_by is not None:
        choice = BackendChoice("torch", f"weights made by method '{made_by}' run as that method built them")
    else:
        choice = resolve_auto(
            model.card, model.scale, model.device, dtype_name(model.dtype), size, latent=model.takes_latent
        )
    name, reason, converter = choice.backend, choice.reason, None
    if name != "torch":
        converter = getattr(find_backend(name), "convert", None)
        if converter is None:  # a runtime of exported files cannot take a built model
            name, reason = "torch", f"{reason}; but {name} runs only exported files, so torch"
    _log_auto(name, reason)
    return name, converter


def _log_auto(name: str, reason: str) -> None:
    """Say what ``auto`` chose and why; ``genedit --verbose`` shows it."""
    import logging

    logging.getLogger("genedit.backends").info("backend auto -> %s: %s", name, reason)


def _convert(converter: Any, backend: str, model: LoadedModel) -> LoadedModel:
    """Step 5, for ``--backend`` of the converting kind: the runtime takes over the built model.

    It returns the model it runs (``backend`` set to its name), or the torch model unchanged when
    the network does not convert, having said why in one warning.
    """
    from .plugins import _describe

    try:
        converted = converter(model)
    except GeneditError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"backend '{backend}' failed to convert model '{model.name}': {_describe(exc)}"
        ) from exc
    if converted is None:
        raise PluginError(f"backend '{backend}' returned no model for '{model.name}'")
    return converted


def read_state(card: ModelCard, resolved: ResolvedWeights | None) -> dict[str, Any] | None:
    """Step 2: the weights file's tensors, read safely and canonicalised (``None`` without weights)."""
    if resolved is None:
        return None
    from .checkpoint import canonicalize, load_state_dict

    return canonicalize(load_state_dict(resolved.path), card.keep_keys)


def transform_method(config: dict[str, Any]) -> str | None:
    """The method named under ``genedit.transform`` in a weights' ``config.json``, if any."""
    section = config.get("genedit")
    method = section.get("transform") if isinstance(section, dict) else None
    return method if isinstance(method, str) and method else None


def _owner_build(
    plugins: Any, request: LoadRequest, state: dict[str, Any] | None, device: Any = None, dtype: Any = None
) -> LoadedModel:
    """Step 3: the card owner's ``load_model``, with ``state`` (and another device/dtype if given)."""
    from dataclasses import replace

    from .plugins import _describe

    card = request.card
    request = replace(
        request,
        state_dict=state,
        device=request.device if device is None else device,
        dtype=request.dtype if dtype is None else dtype,
    )
    try:
        model = plugins.owner_hook("load_model", card)(request=request)
    except GeneditError:
        raise
    except (Exception, SystemExit) as exc:  # a plugin's bug is one line naming it, not a traceback
        raise PluginError(
            f"plugin '{card.plugin}' failed in its load_model hook for model '{card.name}': {_describe(exc)}"
        ) from exc
    if model is None:
        raise PluginError(f"plugin '{card.plugin}' did not build model '{card.name}'")
    if model.dtype != request.dtype:  # the core's choice alone (--dtype, the card's bf16/fp16_safe)
        from .device import dtype_name

        raise PluginError(
            f"plugin '{card.plugin}' built model '{card.name}' in {dtype_name(model.dtype)}, but "
            f"{dtype_name(request.dtype)} was chosen; build in request.dtype"
        )
    return model


def _transform(plugins: Any, method: str, request: LoadRequest) -> LoadedModel:
    """Step 4: the plugin that answers ``transform_model`` for ``method`` finishes the model."""
    from .plugins import _describe
    from .requests import TransformRequest

    card, resolved = request.card, request.weights
    assert resolved is not None
    cache: list[dict[str, Any] | None] = []

    def read() -> dict[str, Any]:
        if not cache:
            cache.append(read_state(card, resolved))
        state = cache[0]
        assert state is not None
        return state

    def build(state: dict[str, Any] | None, device: Any = None, dtype: Any = None) -> LoadedModel:
        return _owner_build(plugins, request, state, device, dtype)

    treq = TransformRequest(
        method, card, resolved, resolved.config, request.scale, request.device, request.dtype, build, read
    )
    try:
        model = plugins.hook.transform_model(request=treq)
    except GeneditError:
        raise
    except (Exception, SystemExit) as exc:
        raise PluginError(
            f"{resolved.origin}: loading weights made by method '{method}' failed: {_describe(exc)}"
        ) from exc
    if model is None:
        owner = next((m.plugin for (_, n), m in plugins.registry.methods.items() if n == method), None)
        raise PluginError(
            f"{resolved.origin}: made by method '{method}', "
            + (
                f"but plugin '{owner}' does not load what it makes"
                if owner
                else "which no loaded plugin provides (see 'genedit plugins')"
            )
        )
    return model
