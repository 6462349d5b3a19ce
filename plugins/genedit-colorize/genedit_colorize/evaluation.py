"""``genedit eval colorize``: PSNR against the number of hints, per image and on average.

Each reference image (centre crop of at most ``MAX_SIDE`` pixels, so the sparse solve of ``levin``
stays seconds) is the target, its XDoG drawing the input (a ``builtin:clipart`` drawing is rendered
at ``MAX_SIDE`` with its own line art), and 0, 1, 5 and 20 hints are simulated
from it with seeded generators, the same for every model (:func:`genedit_colorize.training.eval_pairs`,
the pairs ``benchmarks/colorize_report.py`` and training's validation use).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from genedit_core.sdk import psnr

HINT_COUNTS = (0, 1, 5, 20)
MAX_SIDE = 256


def evaluate(request) -> dict[str, Any] | None:
    if request.task != "colorize":
        return None
    from genedit_core.sdk import parse_index_ranges

    counts = parse_index_ranges(request.params.get("hints", ",".join(map(str, HINT_COUNTS))), "hints", hi=200)
    from .clipart import parse_spec
    from .training import eval_pairs

    model = request.model
    dev, dt = model.device, model.dtype
    rows: list[dict[str, Any]] = []
    names = None
    for n in counts:
        pairs = eval_pairs(str(request.data), MAX_SIDE, hints=n)
        if names is None:
            names = [str(i) for i in range(len(pairs))]
            rows = [{"image": name} for name in names]
        for row, (line, colours, mask, target) in zip(rows, pairs):
            with torch.inference_mode():
                out = model.module(line[None].to(dev, dt), colours[None].to(dev, dt), mask[None].to(dev, dt))
            row[f"psnr_{n}"] = psnr(out[0].float().cpu().clamp(0, 1).numpy(), target.numpy(), data_range=1.0)
    keys = [f"psnr_{n}" for n in counts]
    return {
        "columns": ["image", *keys],
        "rows": rows,
        "summary": {k: float(np.mean([r[k] for r in rows])) for k in keys},
        "convention": (
            f"clipart drawings rendered at {MAX_SIDE}px with their own line art (fills stripped)"
            if parse_spec(str(request.data))
            else f"XDoG input, centre crops of at most {MAX_SIDE}px"
        )
        + f"; {'/'.join(map(str, counts))} seeded simulated hints; RGB, float",
    }
