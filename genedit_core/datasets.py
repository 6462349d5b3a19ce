"""The bundled sample sets (``--data builtin:NAME``): what exists, without loading any of them.

The core ships the sets that come from scikit-learn and scikit-image; a plugin that generates its
own (genedit-vae's ``builtin:shapes``) declares it with the ``register_datasets`` hook, so that
``genedit datasets`` lists every set that ``--data`` accepts. Loading stays with the owner: the
core in :func:`genedit_core.training.data.resolve_data`, a plugin in its own train/evaluate hooks.
Importing this module costs nothing (no torch, no numpy).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SampleSet:
    """One ``builtin:NAME`` set: what it holds, its licence and where the data comes from."""

    name: str
    summary: str
    licence: str
    source: str
    plugin: str = "core"


# scikit-image sample photographs that ship inside the wheel (no download), with their licences
# as stated in skimage.data's docstrings. The held-out split is never trained on.
SKIMAGE_TRAIN = {
    "rocket": "public domain (SpaceX)",
    "hubble_deep_field": "public domain (NASA)",
    "immunohistochemistry": "no known copyright restrictions",
    "retina": "CC0",
    "brick": "CC0",
    "grass": "CC0",
    "gravel": "CC0",
    "cell": "CC0",
    "text": "public domain",
    "microaneurysms": "CC0",
}
SKIMAGE_HELDOUT = {
    "astronaut": "public domain (NASA)",
    "camera": "CC0 (Lav Varshney)",
    "chelsea": "CC0 (Stefan van der Walt)",
    "coffee": "CC0 (Rachel Michetti)",
    "coins": "no known copyright restrictions (Brooklyn Museum)",
}

SAMPLE_SETS = {
    "digits": SampleSet(
        "digits",
        "scikit-learn handwritten digits, 1,797 8×8 grey images with labels 0–9, upscaled",
        "BSD-3-Clause (scikit-learn; UCI ML digits data)",
        "sklearn.datasets.load_digits",
    ),
    "skimage-photos": SampleSet(
        "skimage-photos",
        f"{len(SKIMAGE_TRAIN)} scikit-image sample images for training ({', '.join(SKIMAGE_TRAIN)})",
        "public domain / CC0 per image (see docs)",
        "skimage.data",
    ),
    "skimage-photos:heldout": SampleSet(
        "skimage-photos:heldout",
        f"{len(SKIMAGE_HELDOUT)} held-out scikit-image photographs for evaluation "
        f"({', '.join(SKIMAGE_HELDOUT)})",
        "public domain / CC0 per image (see docs)",
        "skimage.data",
    ),
}


def sample_sets(plugins: Any = None) -> tuple[list[SampleSet], list[str]]:
    """Every set ``--data builtin:NAME`` accepts: the core's, then each plugin's, by name.

    Each plugin is asked on its own, so one whose hook fails costs only its own sets; the second
    value holds one line per such failure (and per name already taken), for a warning.
    """
    if plugins is None:
        from .plugins import get_plugins

        plugins = get_plugins()
    found: dict[str, SampleSet] = dict(SAMPLE_SETS)
    problems: list[str] = []
    named = plugins.pm.list_name_plugin()
    for name, _obj in named:
        others = [o for n, o in named if n != name]
        caller = plugins.pm.subset_hook_caller("register_datasets", remove_plugins=others)
        sets: list[SampleSet] = []
        try:
            caller(register=sets.append)
        except Exception as exc:
            problems.append(f"plugin '{name}' failed to list its datasets: {type(exc).__name__}: {exc}")
            continue
        for s in sets:
            if not isinstance(s, SampleSet):
                problems.append(f"plugin '{name}' registered {type(s).__name__}, expected SampleSet")
            elif s.name in found:
                problems.append(
                    f"plugin '{name}': dataset 'builtin:{s.name}' is already {found[s.name].plugin}'s"
                )
            else:
                found[s.name] = SampleSet(s.name, s.summary, s.licence, s.source, plugin=name)
    return sorted(found.values(), key=lambda s: s.name), problems
