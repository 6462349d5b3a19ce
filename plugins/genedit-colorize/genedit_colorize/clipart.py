"""``builtin:clipart``: line art / colour pairs rendered from Debian's ``openclipart-svg``.

Open Clip Art Library drawings are dedicated to the public domain, and being vector drawings they
give exact pairs, unlike an edge detector run on photos: each SVG is rendered twice with cairosvg,

* the line art: fills stripped (``fill:none``), every stroke black; a dark fill (luma below
  ``INK_LUMA``) stays, as black, because clip art often draws its outlines as filled shapes; and
  ink is kept only where the whole drawing is dark too (a black shape under the colours that
  makes an outline is a line where it peeks out, not a silhouette);
* the target: the whole drawing on white.

Both are cropped to the drawing's ink and fitted, centred, on a white ``size``×``size`` canvas.
Rendering is lazy: a pair is made the first time it is asked for and cached as one PNG under the
genedit cache dir; an SVG that fails to parse or render (or whose line art is empty) is skipped,
remembered in the cache, and counted. SVGs are untrusted input: they are parsed with entities
forbidden and rendered with cairosvg's ``unsafe=False`` and a URL fetcher that answers every
``file:``/``http:`` reference with an empty image, so nothing is read from outside the file and
nothing is fetched from the network.

The split is by a hash of each file's path inside the package, so it does not depend on which
files exist or in which order they are listed: one drawing in ``HELDOUT_EVERY`` is held out.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import numpy as np

ROOT = Path("/usr/share/openclipart")
INSTALL_LINE = "apt-get install openclipart-svg"
INSTALL = f"builtin:clipart needs Debian's openclipart-svg drawings: {INSTALL_LINE}"
HELDOUT_EVERY = 50
INK_LUMA = 0.2  # fills darker than this are kept (as black) in the line art
VISIBLE_LUMA = 0.45  # line art ink is faded out where the drawing itself is lighter than this
RENDER_SCALE = 3  # render at this many times the canvas before cropping to the ink
MIN_INK = 0.002  # line art with less ink than this fraction of the canvas is skipped
EMPTY_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"></svg>'
SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_files(root: Path | None = None) -> list[Path]:
    """Every ``*.svg`` under ``root`` (default :data:`ROOT`), sorted; a UsageError if there are none."""
    from genedit_core.sdk import UsageError

    root = ROOT if root is None else Path(root)
    files = sorted(root.rglob("*.svg")) if root.is_dir() else []
    if not files:
        raise UsageError(f"{INSTALL} (no SVG files under {root})")
    return files


def _digest(relative: str) -> str:
    return hashlib.sha1(relative.encode()).hexdigest()


def is_heldout(relative: str) -> bool:
    """Whether the drawing at ``relative`` (its path inside the package) belongs to the held-out split."""
    return int(_digest(relative)[:8], 16) % HELDOUT_EVERY == 0


def split_files(split: str, root: Path | None = None) -> list[Path]:
    """The drawings of ``split`` (``train`` or ``heldout``), in the order of their paths' hashes, so
    that the first N of a split (``limit``) are a sample of every category, not the first folders."""
    root = ROOT if root is None else Path(root)
    held = split == "heldout"
    rel = {f: f.relative_to(root).as_posix() for f in svg_files(root)}
    return sorted((f for f in rel if is_heldout(rel[f]) == held), key=lambda f: (_digest(rel[f]), rel[f]))


def _refuse_fetch(url: str, resource_type: str) -> bytes:
    """cairosvg's URL fetcher: nothing outside the SVG is read (an empty image for every reference)."""
    return EMPTY_SVG


def _luma(colour: str) -> float | None:
    """Luma (0-1) of an SVG paint, or None if it is no plain colour (none, url(#gradient), ...)."""
    from PIL import ImageColor

    text = colour.strip()
    if not text or text in ("none", "currentColor", "inherit") or text.startswith("url("):
        return None
    try:
        r, g, b = ImageColor.getrgb(text)[:3]
    except ValueError:
        return None
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255.0


def _style(element) -> dict[str, str]:
    out = {}
    for part in element.get("style", "").split(";"):
        key, sep, value = part.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _strip(element, fill: str, stroke: str) -> None:
    """Rewrite ``element`` and its children in place: fills none unless dark, strokes black."""
    style = _style(element)
    fill = style.get("fill", element.get("fill", fill))
    stroke = style.get("stroke", element.get("stroke", stroke))
    luma = _luma(fill)
    new_fill = "#000000" if luma is not None and luma < INK_LUMA else "none"
    new_stroke = "none" if stroke.strip() in ("none", "") else "#000000"
    for key in ("fill", "stroke"):
        element.attrib.pop(key, None)
    style.update({"fill": new_fill, "stroke": new_stroke})
    element.set("style", ";".join(f"{k}:{v}" for k, v in style.items()))
    for child in list(element):
        if child.tag in (SVG_NS + "image", SVG_NS + "style", "image", "style"):
            element.remove(child)
        else:
            _strip(child, fill, stroke)


def line_art_svg(svg: bytes) -> bytes:
    """The SVG with fills stripped and strokes black: the line art of the drawing (see module doc)."""
    from xml.etree.ElementTree import tostring as std_tostring

    from defusedxml import ElementTree

    root = ElementTree.fromstring(svg, forbid_entities=True, forbid_external=True)
    _strip(root, "#000000", "none")  # SVG's initial values: fill black, stroke none
    return std_tostring(root)


def _render(svg: bytes, **size: int) -> np.ndarray:
    """H×W×3 uint8 rendering of ``svg`` on white (cairosvg, no external access)."""
    from cairosvg.surface import PNGSurface
    from PIL import Image

    png = PNGSurface.convert(
        bytestring=svg, unsafe=False, url_fetcher=_refuse_fetch, background_color="white", **size
    )
    with Image.open(io.BytesIO(png)) as im:
        return np.asarray(im.convert("RGB"))


def render_pair(svg: bytes, size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(size×size×3 target, size×size line luma) uint8, fitted on white; None if the line art is empty."""
    from PIL import Image

    big = size * RENDER_SCALE
    target = _render(svg, output_width=big)
    if target.shape[0] > target.shape[1]:
        target = _render(svg, output_height=big)
        dims = {"output_height": big}
    else:
        dims = {"output_width": big}
    line = _render(line_art_svg(svg), **dims)
    if line.shape != target.shape:
        return None
    # ink shows only where the drawing is dark too: a black shape that clip art lays under its
    # colours to make an outline is a line only where it peeks out, not a silhouette
    luma = target @ np.array([0.299, 0.587, 0.114]) / 255.0
    keep = np.clip((VISIBLE_LUMA - luma) / 0.15, 0.0, 1.0)
    grey = 255.0 - (255.0 - line.mean(axis=2)) * keep
    ink = (grey < 250) | (target.min(axis=2) < 250)
    if not (grey < 128).any():
        return None
    ys, xs = np.nonzero(ink)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    pad = max(1, side // 32)
    out = []
    for img in (target, np.repeat(grey[..., None], 3, axis=2).astype(np.uint8)):
        canvas = np.full((side + 2 * pad, side + 2 * pad, 3), 255, np.uint8)
        cy, cx = pad + (side - (y1 - y0)) // 2, pad + (side - (x1 - x0)) // 2
        canvas[cy : cy + y1 - y0, cx : cx + x1 - x0] = img[y0:y1, x0:x1]
        out.append(np.asarray(Image.fromarray(canvas).resize((size, size), Image.Resampling.LANCZOS)))
    line_out = out[1][..., 0]
    if float((line_out < 128).mean()) < MIN_INK:
        return None
    return out[0], line_out


class ClipartPairs:
    """(3×S×S target, 1×S×S line art) float pairs of one split, rendered on first use and cached.

    ``pair(i)`` is None for a drawing that was skipped; :attr:`skipped` counts those seen so far.
    """

    def __init__(
        self,
        split: str = "train",
        size: int = 128,
        root: Path | None = None,
        cache: Path | None = None,
        limit: int | None = None,
    ):
        from genedit_core.sdk import genedit_cache_dir

        self.root = ROOT if root is None else Path(root)
        self.files = split_files(split, self.root)[:limit]
        self.size = size
        self.cache = (Path(cache) if cache is not None else genedit_cache_dir() / "clipart") / str(size)
        self._skipped: set[int] = set()

    def __len__(self) -> int:
        return len(self.files)

    @property
    def skipped(self) -> int:
        return len(self._skipped)

    def _key(self, i: int) -> Path:
        rel = self.files[i].relative_to(self.root).as_posix()
        return self.cache / _digest(rel)[:20]

    def pair(self, i: int):
        """The i-th pair as float tensors in 0-1, or None if the drawing is skipped."""
        import torch
        from PIL import Image

        key = self._key(i)
        png, fail = key.with_suffix(".png"), key.with_suffix(".skip")
        if fail.exists():
            self._skipped.add(i)
            return None
        if png.exists():
            with Image.open(png) as im:
                both = np.asarray(im.convert("RGB"))
            target, line = both[:, : self.size], both[:, self.size :, 0]
        else:
            try:
                made = render_pair(self.files[i].read_bytes(), self.size)
            except Exception:  # any SVG cairosvg or the parser refuses: skipped and counted
                made = None
            self.cache.mkdir(parents=True, exist_ok=True)
            if made is None:
                fail.touch()
                self._skipped.add(i)
                return None
            target, line = made
            tmp = key.with_suffix(f".{os.getpid()}.tmp")
            both = np.concatenate([target, np.repeat(line[..., None], 3, axis=2)], axis=1)
            Image.fromarray(both).save(tmp, format="PNG")
            os.replace(tmp, png)
        t = torch.from_numpy(target.transpose(2, 0, 1).copy()).float() / 255.0
        ln = torch.from_numpy(line[None].copy()).float() / 255.0
        return t, ln


def parse_spec(text: str) -> str | None:
    """The split named by a ``builtin:clipart[:split]`` spec, or None for any other spec."""
    from genedit_core.sdk import UsageError

    if text != "builtin:clipart" and not text.startswith("builtin:clipart:"):
        return None
    split = text[len("builtin:clipart") :].lstrip(":") or "train"
    if split not in ("train", "heldout"):
        raise UsageError(f"--data {text}: builtin:clipart has the splits train and heldout")
    return split
