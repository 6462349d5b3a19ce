"""A small gated-convolution U-Net for inpainting (gated convolution: Yu et al. 2019, "Free-Form
Image Inpainting with Gated Convolution", https://arxiv.org/abs/1806.03589).

Why gated rather than partial convolution: partial convolution updates its mask by a fixed rule
(a pixel is valid once any input under the kernel was), which suits boxes but leaves thin
free-form strokes half-valid; a gated conv learns a soft, per-channel validity
``σ(conv_g(x))`` that multiplies its features ``ELU(conv_f(x))``, which is what free-form strokes
need, at the cost of one more conv per layer.

Two stages, in the spirit of DeepFill's coarse-to-fine generator but with a classical coarse
stage: a biharmonic fill computed inside the module (:mod:`.coarse_fill`, no parameters), then the
gated U-Net refines it. Why: a U-Net trained from scratch for a few CPU-hours fills worse than the
classical methods (12.6 dB in the hole against 21.8 for biharmonic after 400 steps), because it
must first learn what a smooth fill is. Given the biharmonic fill as input, it only has to learn
what that fill gets wrong (edges and texture that should cross the hole), and its last layer starts
at zero (or, with ``out_init``, small and random), so an untrained network is (close to) the
biharmonic fill and training starts from the best classical answer.

With ``coarse="blend"`` the coarse stage is two fills, biharmonic and harmonic (which continues
values but not slopes, so it does not overshoot deep inside a wide hole), and the U-Net also
predicts a per-pixel gate ``α = σ(logit)`` between them: the output is
``harmonic + α·(biharmonic − harmonic) + residual``. Why: on validation photos neither fill is
better everywhere (the biharmonic one carries slopes into the hole, the harmonic one never
overshoots), and their plain mean beats both, since their errors partly cancel. A zero last layer
starts there, at α = ½; the gate moves away from it where the hole and the picture say which fill
to trust. Measured, that is worth little: the bundled weights gain 0.013 dB over the mean on
validation photos, and the fitted best α per photo would gain 0.13 (docs/models/gated-unet.md).

The U-Net's input: the coarse fill (centred on 0) and the hole mask as a fourth channel (with
``blend``, also the harmonic fill's difference from the biharmonic one: 7 channels). Three
stride-2 levels down, dilated gated convs at 1/8 resolution to widen the context,
nearest-neighbour upsampling with skip connections back up, a 3×3 conv to a residual in RGB. The
output is ``clamp(coarse + residual)`` inside the hole; pixels outside the hole are the input's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .coarse_fill import biharmonic_fill, harmonic_fill

#: coarse stages: the biharmonic fill alone, or a learned per-pixel blend of biharmonic and harmonic
COARSE = ("biharmonic", "blend")


class GatedConv(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.feature = nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation)
        self.gate = nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.elu(self.feature(x)) * torch.sigmoid(self.gate(x))


class GatedUNet(nn.Module):
    def __init__(
        self,
        features: int = 32,
        dilated: int = 2,
        out_init: float = 0.0,
        coarse: str = "biharmonic",
        global_gate: bool = False,
    ):
        """``out_init``: std of the last conv's normal initial weights; 0 starts it at zero.
        ``coarse``: one of :data:`COARSE` (the module docstring says why ``blend``).
        ``global_gate`` (``blend`` only): add to the gate's logit a linear function of the
        image-wide mean of the deepest features. Why: on validation photos the best single α per
        photo gains 0.13 dB over α = ½, the best α per distance from the hole's edge only 0.05, so
        which fill to trust depends on the whole picture (its texture), which the U-Net's
        96-pixel receptive field does not see.

        Why not always zero: with a zero last conv the body's gradient is ``out.weight``ᵀ times the
        residual's, exactly zero at step 0 and afterwards set by whatever noise the last layer has
        picked up, so the body learns toward a direction that changes from batch to batch (1200
        steps left the last layer at about 7·10⁻⁴ on average and the fill unchanged). A small
        random start gives the body a fixed projection to learn through from the first step,
        while the initial residual stays small (an ELU times a sigmoid gate keeps the body's
        outputs small at initialisation, so a std of a few hundredths adds a few 255ths).
        """
        super().__init__()
        if out_init < 0:
            raise ValueError(f"out_init {out_init}: a standard deviation, >= 0")
        if coarse not in COARSE:
            raise ValueError(f"coarse '{coarse}': one of {', '.join(COARSE)}")
        if global_gate and coarse != "blend":
            raise ValueError("global_gate needs coarse='blend' (it moves the gate between the two fills)")
        self.coarse = coarse
        blend = coarse == "blend"
        f = features
        self.enc0 = GatedConv(7 if blend else 4, f)
        self.enc1 = GatedConv(f, 2 * f, stride=2)
        self.enc2 = GatedConv(2 * f, 4 * f, stride=2)
        self.enc3 = GatedConv(4 * f, 4 * f, stride=2)
        self.mid = nn.Sequential(*[GatedConv(4 * f, 4 * f, dilation=2 ** (i + 1)) for i in range(dilated)])
        self.dec2 = GatedConv(8 * f, 2 * f)
        self.dec1 = GatedConv(4 * f, f)
        self.dec0 = GatedConv(2 * f, f)
        self.out = nn.Conv2d(f, 4 if blend else 3, 3, padding=1)  # with blend, channel 0: the gate's logit
        if out_init > 0:
            nn.init.normal_(self.out.weight, std=out_init)
        else:
            nn.init.zeros_(self.out.weight)  # step 0 is the coarse (biharmonic) fill, exactly
        nn.init.zeros_(self.out.bias)
        # image-wide context for the gate; starts at zero, so the start is the local gate's
        self.gate_context = nn.Linear(4 * f, 1) if global_gate else None
        if self.gate_context is not None:
            nn.init.zeros_(self.gate_context.weight)
            nn.init.zeros_(self.gate_context.bias)
        self.size_multiple = 8
        self.receptive_field = 8 * (2 + 2 ** (dilated + 1)) + 16  # the context a hole pixel can draw on

    def forward(self, x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """``x`` N×3×H×W in 0-1, ``hole`` N×1×H×W (1 = hole); H and W multiples of 8."""
        hole = (hole > 0.5).to(x.dtype)
        with torch.no_grad():
            coarse = biharmonic_fill(x * (1 - hole), hole).to(x.dtype)
            smooth = harmonic_fill(x * (1 - hole), hole).to(x.dtype) if self.coarse == "blend" else None
        if smooth is None:
            inp = torch.cat([coarse - 0.5, hole], dim=1)
        else:
            inp = torch.cat([coarse - 0.5, smooth - coarse, hole], dim=1)
        e0 = self.enc0(inp)
        e1 = self.enc1(e0)
        e2 = self.enc2(e1)
        m = self.mid(self.enc3(e2))
        up = F.interpolate(m, scale_factor=2, mode="nearest")
        d2 = self.dec2(torch.cat([up, e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2, mode="nearest"), e1], 1))
        d0 = self.dec0(torch.cat([F.interpolate(d1, scale_factor=2, mode="nearest"), e0], 1))
        out = self.out(d0)
        if smooth is None:
            pred = coarse + out
        else:
            logit = out[:, :1]
            if self.gate_context is not None:
                logit = logit + self.gate_context(m.mean((2, 3)))[:, :, None, None]
            pred = smooth + torch.sigmoid(logit) * (coarse - smooth) + out[:, 1:]
        pred = pred.clamp(0, 1)
        return x * (1 - hole) + pred * hole

    def fill(self, x: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """Any size: reflect-pad image and hole alike to a multiple of 8 (a reflected hole pixel is
        a hole pixel, so no grey leaks into the known pixels), then crop back."""
        h, w = x.shape[-2:]
        ph, pw = (-h) % 8, (-w) % 8
        if ph or pw:
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
            hole = F.pad(hole.to(x.dtype), (0, pw, 0, ph), mode=mode)
        return self.forward(x, hole)[..., :h, :w]
