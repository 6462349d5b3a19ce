"""Extra ``--key value`` options on ``run`` and ``generate``, passed to plugins as strings."""

from __future__ import annotations

from genedit_core.errors import UsageError
from genedit_core.params import parse_index_ranges


def parse_extras(args: list[str]) -> dict[str, str | list[str]]:
    """``--key value`` pairs as a dict; a key given more than once maps to the list of its values, in
    order (a repeatable option collects them, any other refuses them: :meth:`Option.parse`)."""
    params: dict[str, str | list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise UsageError(f"unexpected argument '{arg}' (plugin options look like --name value)")
        key = arg[2:]
        if "=" in key:
            key, value = key.split("=", 1)
            i += 1
        elif i + 1 < len(args) and not (args[i + 1].startswith("--") and len(args[i + 1]) > 2):
            value = args[i + 1]
            i += 2
        else:
            value = "true"
            i += 1
        key = key.replace("-", "_")
        if key in params:
            before = params[key]
            params[key] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            params[key] = value
    return params


def split_inputs_and_extras(tokens: list[str]) -> tuple[list[str], dict[str, str | list[str]]]:
    """Click hands unknown ``--key value`` options to the variadic INPUTS argument; separate them."""
    inputs: list[str] = []
    extras: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--") and len(tok) > 2:
            extras.append(tok)
            if "=" not in tok and i + 1 < len(tokens) and not tokens[i + 1].startswith("--"):
                extras.append(tokens[i + 1])
                i += 1
        else:
            inputs.append(tok)
        i += 1
    return inputs, parse_extras(extras)


def parse_seeds(spec: str) -> list[int]:
    """``0-15``, ``0,3,7`` or ``0-3,9`` -> a list of ints, in order, without duplicates."""
    return parse_index_ranges(spec, "seeds")
