"""Reading the task options of ``request.params`` (strings from the command line), torch-free.

Options are the same for every image of a batch, so everything that can be checked without the
image is checked before any work and is a :class:`UsageError` (exit 2, the batch stops once).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from genedit_core.sdk import ImageError, Option, UsageError

SIGMA_MAX = 255.0


def check_known(params: Mapping[str, Any], options: tuple[Option, ...], what: str) -> None:
    """Refuse a ``--key`` the model does not read, naming the valid ones (a typo is never ignored)."""
    known = {o.name: o for o in options}
    for key in params:
        if key not in known:
            close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
            hint = f"; did you mean {known[close[0]].flag}?" if close else ""
            valid = ", ".join(o.flag for o in options) or "none"
            raise UsageError(
                f"{what}: unknown option --{key.replace('_', '-')}{hint} (valid options: {valid})"
            )


def parse_sigma(params: Mapping[str, Any]) -> float | None:
    """``--sigma``: a noise level on the 0-255 scale, or ``None`` for 'auto' (estimate per image)."""
    raw = params.get("sigma", "auto")
    text = str(raw).strip().lower()
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"--sigma {raw}: expected a number from 0 to 255, or auto") from None
    if not (0.0 <= value <= SIGMA_MAX):  # also refuses NaN
        raise UsageError(f"--sigma {raw}: must be between 0 and 255 (the 8-bit scale), or auto")
    return value


def estimate_sigma(image: np.ndarray) -> float:
    """Noise σ (0-255 scale) of an H×W×C image in 0-1, by scikit-image's wavelet (MAD) estimator."""
    from skimage.restoration import estimate_sigma as skimage_estimate

    return float(skimage_estimate(image, channel_axis=-1, average_sigmas=True)) * 255.0


def sigma_for(image: np.ndarray, sigma: float | None) -> float:
    """``sigma``, or the estimate for ``image`` when it is 'auto' (said once per image as a warning)."""
    if sigma is not None:
        return sigma
    from genedit_core.sdk import GeneditWarning

    value = estimate_sigma(image)
    warnings.warn(
        f"--sigma auto: estimated noise level σ = {value:.1f} (0-255 scale)", GeneditWarning, stacklevel=2
    )
    return value


def warn_unsuited_sigma(model, sigma: float | None) -> None:
    """Say (one line) when a network that reads no σ was not trained for the ``--sigma`` given: a
    fixed-σ variant's own σ (``sigma`` in its config) or a blind one's range (``sigma_range``)."""
    if sigma is None:  # 'auto': the network handles whatever the image carries
        return
    from genedit_core.sdk import GeneditWarning

    hp = model.hyperparameters
    origin = model.weights.origin if model.weights else model.card.name
    fixed, span = hp.get("sigma"), hp.get("sigma_range")
    if isinstance(fixed, (int, float)) and abs(sigma - fixed) > 0.5:
        message = (
            f"{origin} is trained for σ = {fixed:g} only, not {sigma:g}; a blind variant or ffdnet suits it"
        )
    elif span and not span[0] <= sigma <= span[1]:
        message = f"{origin} is trained for σ {span[0]:g}-{span[1]:g}, not {sigma:g}; ffdnet takes any σ"
    else:
        return
    warnings.warn(message, GeneditWarning, stacklevel=2)


def read_mask(path: str) -> np.ndarray:
    """The mask file as H×W floats in 0-1 (white = hole); an unreadable file is a UsageError."""
    p = Path(path).expanduser()
    try:
        stamp = p.stat().st_mtime_ns
    except OSError:
        raise UsageError(f"--mask {path}: no such file") from None
    if not p.is_file():
        raise UsageError(f"--mask {path}: not a regular file")
    return _read_mask(str(p), stamp).copy()


@lru_cache(maxsize=4)
def _read_mask(path: str, stamp: int) -> np.ndarray:
    """Read once per batch (the same mask serves every image); ``stamp`` invalidates an edited file."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64) / 65535.0
            elif im.mode == "F":
                arr = np.asarray(im, dtype=np.float64)
            else:
                arr = np.asarray(im.convert("L"), dtype=np.float64) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise UsageError(f"--mask {path}: not an image genedit can read ({exc.__class__.__name__})") from None
    return np.clip(arr, 0.0, 1.0)


def hole_from(params: Mapping[str, Any], alpha: Any, size: tuple[int, int]) -> np.ndarray:
    """The hole as an H×W bool array: ``--mask`` (white = hole), else the transparent pixels of the
    input's alpha, else nothing. A mask of another size than the image is an :class:`ImageError`."""
    h, w = size
    path = params.get("mask")
    if path:
        mask = read_mask(str(path))
        if mask.shape != (h, w):
            raise ImageError(
                f"--mask {path} is {mask.shape[1]}×{mask.shape[0]}, the image {w}×{h}: "
                "they must be the same size"
            )
        return mask > 0.5
    if alpha is not None:
        a = np.asarray(alpha, dtype=np.float64).reshape(h, w)
        return a < 0.5
    return np.zeros((h, w), dtype=bool)
