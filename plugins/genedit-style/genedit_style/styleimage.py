"""The style image a user names with ``--style``: read safely, checked, as an RGB tensor.

Read through the core's reader (``genedit_core.sdk.read_image``), so a huge or malformed file is
refused before decoding with one line naming it. What is odd but usable is a warning, not a
failure: a grey image (its Gram statistics carry no colour, so the result turns grey-toned), an
alpha channel (dropped), or a style image far larger than the content (it is scaled down anyway;
the warning says the detail it had is lost).
"""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import torch

# A style image over this many times the content's pixels (8× per side) gets a warning.
FAR_LARGER = 64
BUNDLED = "swirls.png"


def bundled_style_path() -> Path:
    """The painting bundled with the plugin (drawn by scripts/draw_style_painting.py; Apache-2.0)."""
    return Path(str(resources.files("genedit_style") / "images" / BUNDLED))


def read_style(path: str | Path | None, content_pixels: int | None = None) -> torch.Tensor:
    """1×3×H×W float 0-1 of ``path`` (the bundled painting when ``None``)."""
    from genedit_core.sdk import GeneditWarning, read_image

    bundled = path in (None, "")
    path = bundled_style_path() if bundled else Path(path)
    image = read_image(path)
    pixels = torch.from_numpy(image.pixels).permute(2, 0, 1)[None].float()
    channels = pixels.shape[1]
    if channels in (2, 4):
        warnings.warn(f"style image {path}: its alpha channel is ignored", GeneditWarning, stacklevel=2)
        pixels = pixels[:, : channels - 1]
    if pixels.shape[1] == 1:
        warnings.warn(
            f"style image {path}: grey, so the result takes its texture but no colour from it",
            GeneditWarning,
            stacklevel=2,
        )
        pixels = pixels.expand(-1, 3, -1, -1)
    h, w = pixels.shape[-2:]
    if content_pixels and not bundled and h * w > FAR_LARGER * content_pixels:
        warnings.warn(
            f"style image {path}: {w}×{h} is over {FAR_LARGER}× the content image's pixels; it is "
            "scaled down to the working size, so its fine detail is lost (use --style-scale to keep more)",
            GeneditWarning,
            stacklevel=2,
        )
    return pixels.contiguous()
