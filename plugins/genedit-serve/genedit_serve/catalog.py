"""The registry as JSON (``GET /models``), and the checks a job request passes before it is queued.

Everything here comes from the cards: tasks, scales, weight variants and each task's declared
:class:`~genedit_core.sdk.Option` s. The web page builds its forms from this JSON alone, so a plugin
installed tomorrow appears with its options and no UI code. The checks are the ones ``genedit run``
makes, with the same one-line messages (an unknown option names the valid ones).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Tasks that take no input image: the page shows seeds instead of an upload.
NO_INPUT_TASKS = ("generate",)
MAX_SEEDS = 64


def model_entry(card: Any) -> dict[str, Any]:
    """One card as the page and API clients see it."""
    return {
        "name": card.name,
        "plugin": card.plugin,
        "family": card.family,
        "summary": card.summary,
        "tasks": list(card.tasks),
        "scales": list(card.scales),
        "default_scale": card.scale_when_unset,
        "any_scale": card.any_scale,
        "weights": [v.name for v in card.variants],
        "default_weights": card.default_variant,
        "needs_weights": card.needs_weights and not card.variants,
        "group_tasks": list(card.group_tasks),
        "options": {task: [option_entry(o) for o in card.task_options(task)] for task in card.tasks},
        "licence": card.licence,
    }


def option_entry(option: Any) -> dict[str, Any]:
    """An option as ``genedit info --json`` shows it, and whether it takes an uploaded image."""
    return {**option.to_dict(), "image": bool(getattr(option, "image", False))}


def image_options(card: Any, task: str) -> dict[str, Any]:
    """The options of ``task`` whose value is an image (a mask): the request uploads them."""
    return {o.name: o for o in card.task_options(task) if getattr(o, "image", False)}


def catalog() -> dict[str, Any]:
    """``GET /models``: every model, and the models of each task (the page groups by task)."""
    from genedit_core.sdk import list_models

    cards = list_models()
    tasks: dict[str, list[str]] = {}
    for card in cards:
        for task in card.tasks:
            tasks.setdefault(task, []).append(card.name)
    return {
        "models": [model_entry(c) for c in cards],
        "tasks": {t: sorted(names) for t, names in sorted(tasks.items())},
        "no_input_tasks": list(NO_INPUT_TASKS),
    }


def as_text(value: Any) -> str:
    """A JSON option value as the command line would spell it (plugins read strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    from genedit_core.sdk import UsageError

    raise UsageError(f"option value {value!r}: expected a string, number or true/false")


def check_request(
    task: str, model: str, options: Mapping[str, Any], scale: int | None, weights: str | None
) -> tuple[Any, dict[str, str]]:
    """The card and the options as strings, or the one-line error ``genedit run`` would give.

    ``weights`` may only name one of the card's variants: no request names a path on the server.
    """
    from genedit_core.sdk import UsageError, check_task_params, get_card

    card = get_card(model)  # an unknown model: "Unknown model 'x'. Did you mean ...?"
    if task not in card.tasks:
        raise UsageError(f"model '{card.name}' does not do '{task}' (it does: {', '.join(card.tasks)})")
    params = {str(k): as_text(v) for k, v in options.items() if v is not None and v != ""}
    for name in image_options(card, task):
        if name in params:
            raise UsageError(
                f"--{name.replace('_', '-')}: upload the image as the form field 'file.{name}' "
                "(a request never names a path on the server)"
            )
    check_task_params(card, task, params)
    # a safety net for image paths a card has not marked image=True: no text option names a path
    for option in card.task_options(task):
        value = params.get(option.name)
        if (
            option.type is str
            and value is not None
            and ("/" in value or "\\" in value or value.startswith("~"))
        ):
            raise UsageError(
                f"{option.flag} {value}: a text option may not name a path on the server "
                "(options that take an image are uploads)"
            )
    if scale is not None and card.scales and scale not in card.scales and not card.any_scale:
        have = ", ".join(f"x{s}" for s in card.scales)
        raise UsageError(f"model '{card.name}' has no x{scale} (it has {have})")
    if weights is not None and card.variant(weights) is None:
        names = ", ".join(v.name for v in card.variants) or "none"
        raise UsageError(f"weights '{weights}': not a variant of '{card.name}' (variants: {names})")
    return card, params
