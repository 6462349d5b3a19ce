"""The face swap network: one shared encoder and one decoder per identity (deepfakes/faceswap's
design), and how it is built from weights.

Imports torch, so only hook bodies import this module.

Trained to reconstruct identity A through decoder A and identity B through decoder B from one
encoder, the code has to describe what both share (pose, expression, lighting) and each decoder
learns to draw its own identity; swapping is encoding a face of A and decoding it with B's decoder.
Here the network is fully convolutional (a narrow code map at 1/8 of the crop's side instead of
faceswap's dense bottleneck), so one set of weights takes crops of any size that is a multiple of 8.
Keys: ``encoder.{0,2,4,6}.*``, ``decoder_a.{0,3,6,9}.*``, ``decoder_b.*``; their shapes fix the
width and the code channels. A run trained with a coverage window (``model.coverage``) also holds
``window``: the ellipse the encoder sees, as fractions of the crop's side (:func:`coverage_window`);
one trained with ``model.input_norm`` holds ``input_norm_flag`` (the encoder standardises colour).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from genedit_core.sdk import LoadedModel, UsageError, WeightsError, load_strict

DIRECTIONS = ("a2b", "b2a")
# the coverage window's height over its width, and the share of its radius that fades to zero
WINDOW_ASPECT, WINDOW_FEATHER = 1.2, 0.15


def coverage_window(coverage: float, padding: float = 0.25) -> tuple[float, float, float, float]:
    """The ellipse an encoder with ``model.coverage`` sees: (centre x, centre y, half-width,
    half-height), fractions of the crop's side. It is centred between the alignment template's eyes
    and mouth, ``coverage`` inter-ocular distances (IOD) wide on each side and ``WINDOW_ASPECT``
    times that tall; at 1.05 it holds the eyes, the brows' lower edge and an open mouth but not the
    face's outline; at 0.9 the brows are out too."""
    from .align import template

    points = template(1, padding)
    iod = float((points[1] - points[0]).norm())
    centre = ((points[0] + points[1]) / 2 + (points[3] + points[4]) / 2) / 2
    return float(centre[0]), float(centre[1]), coverage * iod, WINDOW_ASPECT * coverage * iod


def window_mask(window: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """1×1×height×width weights of ``window`` (:func:`coverage_window`): 1 inside, fading to 0 over
    the outer ``WINDOW_FEATHER`` of its radius, 0 outside."""
    cx, cy, rx, ry = (float(v) for v in window)
    ys = ((torch.arange(height, dtype=torch.float32) + 0.5) / height - cy) / ry
    xs = ((torch.arange(width, dtype=torch.float32) + 0.5) / width - cx) / rx
    radius = (ys[:, None] ** 2 + xs[None, :] ** 2).sqrt()
    return ((1 - radius) / WINDOW_FEATHER).clamp(0, 1)[None, None]


def _encoder(width: int, code: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, width, 5, 2, 2), nn.LeakyReLU(0.1),
        nn.Conv2d(width, 2 * width, 5, 2, 2), nn.LeakyReLU(0.1),
        nn.Conv2d(2 * width, 4 * width, 5, 2, 2), nn.LeakyReLU(0.1),
        nn.Conv2d(4 * width, code, 3, 1, 1),
    )  # fmt: skip


def _decoder(width: int, code: int, mask: bool = False) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(code, 16 * width, 3, 1, 1), nn.LeakyReLU(0.1), nn.PixelShuffle(2),
        nn.Conv2d(4 * width, 8 * width, 3, 1, 1), nn.LeakyReLU(0.1), nn.PixelShuffle(2),
        nn.Conv2d(2 * width, 4 * width, 3, 1, 1), nn.LeakyReLU(0.1), nn.PixelShuffle(2),
        nn.Conv2d(width, 4 if mask else 3, 5, 1, 2), nn.Sigmoid(),
    )  # fmt: skip


class FaceSwapAE(nn.Module):
    """Shared encoder, decoders ``decoder_a`` and ``decoder_b``; images in 0-1, in and out.

    With ``mask``, each decoder draws a fourth channel, the face mask it learnt (faceswap's
    "learn mask"); :meth:`forward` still returns RGB, :meth:`swap_with_mask` both. With ``window``
    (:func:`coverage_window`), the encoder sees only that ellipse of the crop (the rest mid-grey),
    as faceswap's coverage limits a model to the face's centre; the decoders still draw the whole
    crop, so each draws its own face's outline where the features it is given put it. With
    ``input_norm``, the encoder sees each crop's colour channels standardised (mean 0 and spread 1
    inside the window, or the crop without one), so skin tone and light reach the code only as
    contrast and a face of A does not hand B's decoder a colour it never saw; each decoder draws its
    own identity's colours (convert's colour match then brings the target's back).
    """

    window: torch.Tensor | None

    def __init__(
        self,
        width: int = 32,
        code: int = 64,
        mask: bool = False,
        window: tuple[float, float, float, float] | None = None,
        input_norm: bool = False,
    ) -> None:
        super().__init__()
        self.width, self.code, self.mask = width, code, mask
        self.encoder = _encoder(width, code)
        self.decoder_a = _decoder(width, code, mask)
        self.decoder_b = _decoder(width, code, mask)
        if window is not None:
            self.register_buffer("window", torch.tensor(window, dtype=torch.float32))
        else:
            self.window = None
        self.input_norm = input_norm
        if input_norm:  # a flag in the weights, so a run loads as it was trained
            self.register_buffer("input_norm_flag", torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code of faces ``x`` (0-1), seen through the coverage window when there is one."""
        seen = None if self.window is None else window_mask(self.window, x.shape[-2], x.shape[-1]).to(x)
        if self.input_norm:
            weight = torch.ones_like(x[:1, :1]) if seen is None else seen
            total = weight.sum()
            mean = (x * weight).sum((-2, -1), keepdim=True) / total
            spread = (((x - mean) ** 2 * weight).sum((-2, -1), keepdim=True) / total).sqrt()
            x = (x - mean) / (spread + 0.02)
        else:
            x = x * 2 - 1
        return self.encoder(x if seen is None else x * seen)

    def decode(self, z: torch.Tensor, identity: str) -> torch.Tensor:
        return (self.decoder_a if identity == "a" else self.decoder_b)(z)[:, :3]

    def swap_with_mask(self, x: torch.Tensor, direction: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The face drawn as ``direction`` says, and the decoder's mask (None without one)."""
        y = (self.decoder_a if direction[-1] == "a" else self.decoder_b)(self.encode(x))
        return y[:, :3], (y[:, 3:] if self.mask else None)

    def forward(
        self, x: torch.Tensor, direction: str = "a2b", b: torch.Tensor | None = None, code: bool = False
    ) -> Any:
        """``a2b``: encode (a face of A) and draw it as B; ``b2a`` the other way round; ``a2a`` and
        ``b2b`` reconstruct. With ``b``: :meth:`reconstruct` of ``x`` (A) and ``b`` (``code``: and
        the shared code of both, A's first)."""
        if b is not None:
            return self.reconstruct(x, b, code)
        return self.decode(self.encode(x), direction[-1])

    def reconstruct(self, a: torch.Tensor, b: torch.Tensor, code: bool = False) -> tuple[torch.Tensor, ...]:
        """A through decoder A and B through decoder B in one call (a training step uses every
        parameter in one forward, as DDP wants); with a mask, 4 channels each; with ``code``, the
        code both were drawn from as a third item (for the code adversary)."""
        z = self.encode(torch.cat([a, b]))
        out = self.decoder_a(z[: len(a)]), self.decoder_b(z[len(a) :])
        return (*out, z) if code else out

    def hyperparameters(self) -> dict[str, Any]:
        window = None if self.window is None else [round(float(v), 6) for v in self.window]
        return {
            "width": self.width,
            "code": self.code,
            "mask": self.mask,
            "window": window,
            "input_norm": self.input_norm,
        }


class CodeAdversary(nn.Module):
    """A small classifier on the shared code: the logit that a code map came from a face of B
    rather than A (``loss.code_adversary``). It is a training aid only: it is not exported with the
    swap's weights.

    By default (``cells`` 0, ``loss.code_adversary_net=mean``) two 3×3 convolutions see a few code
    cells at once (an eye's size or a brow's weight is local), then the logits are averaged over
    the map, so it takes any crop side. With ``cells`` (the code map's height × width,
    ``loss.code_adversary_net=flat``) it is one hidden layer of ``width`` on the whole code map
    flattened: in aligned crops a trait sits at the same cells every time, and a classifier that
    knows where to look is not diluted by the map's other cells as a mean is. It contains the
    report's linear probe (a linear map of the flattened code), so an encoder that confuses it has
    also removed what that probe finds."""

    def __init__(self, code: int, width: int = 32, cells: int = 0) -> None:
        super().__init__()
        self.flat = bool(cells)
        if cells:
            self.net = nn.Sequential(
                nn.Flatten(), nn.Linear(code * cells, width), nn.LeakyReLU(0.1), nn.Linear(width, 1)
            )  # fmt: skip
        else:
            self.net = nn.Sequential(
                nn.Conv2d(code, width, 3, 1, 1), nn.LeakyReLU(0.1),
                nn.Conv2d(width, width, 3, 1, 1), nn.LeakyReLU(0.1),
                nn.Conv2d(width, 1, 1),
            )  # fmt: skip

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.flat:
            return self.net(z)[:, 0]
        return self.net(z).mean((-3, -2, -1))


def from_state(state: dict[str, torch.Tensor], origin: str) -> FaceSwapAE:
    """The network ``state`` fits, loaded; a WeightsError naming ``origin`` otherwise."""
    if "encoder.0.weight" not in state or "encoder.6.weight" not in state:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(f"{origin}: need keys encoder.*, decoder_a.* and decoder_b.*, found {found}")
    mask = "decoder_a.9.weight" in state and int(state["decoder_a.9.weight"].shape[0]) == 4
    window = state.get("window")
    if window is not None and tuple(window.shape) != (4,):
        raise WeightsError(f"{origin}: 'window' must hold 4 numbers, found shape {tuple(window.shape)}")
    module = FaceSwapAE(
        int(state["encoder.0.weight"].shape[0]),
        int(state["encoder.6.weight"].shape[0]),
        mask,
        None if window is None else tuple(float(v) for v in window),
        "input_norm_flag" in state,
    )
    load_strict(module, state, origin)
    return module


def build_faceswap(request: Any) -> LoadedModel:
    origin = request.weights.origin if request.weights is not None else "faceswap"
    if request.state_dict is None:
        raise WeightsError(
            f"{origin}: faceswap has no bundled identities; train two with "
            "'genedit train faceswap --data-a faces_A --data-b faces_B --out RUN' and pass --weights RUN"
        )
    module = from_state(request.state_dict, origin).eval().to(device=request.device, dtype=request.dtype)
    config = request.weights.config if request.weights is not None else {}
    return LoadedModel(
        card=request.card,
        module=module,
        forward=lambda x: module(x, "a2b"),
        device=request.device,
        dtype=request.dtype,
        size_multiple=8,
        min_size=8,
        tileable=False,  # a face is one crop: tiles would each be decoded as a face
        hyperparameters={
            **module.hyperparameters(),
            "directions": "a2b, b2a",
            "size": int(config.get("size", 64)),
        },
        provenance=synthetic_mark(request.weights),
    )


def synthetic_mark(weights: Any) -> dict[str, Any]:
    """What every swapped output records: that it is synthetic, and the run that made it.

    A face swap makes pictures of people that were never taken; the mark travels in the metadata
    genedit writes anyway (PNG text, EXIF description, the video's comment), beside the weights'
    path and sha256, so anyone holding the file can tell what it is and trace it to the run.
    """
    run: dict[str, Any] = {}
    if weights is not None:
        run = {
            "weights": str(weights.origin),
            "sha256": weights.sha256,
            "identities": (weights.config or {}).get("identities"),
        }
    return {"synthetic": True, "synthetic_by": "genedit-faceswap (face swap)", "run": run}


@torch.no_grad()
def swap(model: LoadedModel, image: torch.Tensor, direction: str) -> torch.Tensor:
    """``image`` (an aligned crop) drawn as the other identity, padded to the size grid and back."""
    return swap_with_mask(model, image, direction)[0]


@torch.no_grad()
def swap_with_mask(
    model: LoadedModel, image: torch.Tensor, direction: str
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """:func:`swap`, and the mask the decoder drew when the run learnt one (else None)."""
    if direction not in DIRECTIONS:
        raise UsageError(f"--direction {direction}: expected a2b or b2a")
    _, _, h, w = image.shape
    ph, pw = -h % 8, -w % 8
    x = image.to(model.device, model.dtype)
    if ph or pw:
        x = torch.nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
    face, mask = model.module.swap_with_mask(x, direction)
    face = face[:, :, :h, :w].float().cpu().clamp(0, 1)
    return face, (mask[:, :, :h, :w].float().cpu().clamp(0, 1) if mask is not None else None)


def tiny_state() -> dict[str, torch.Tensor]:
    """A width-4, 8-channel-code network with random weights (the conformance check's)."""
    torch.manual_seed(0)
    return FaceSwapAE(width=4, code=8).state_dict()
