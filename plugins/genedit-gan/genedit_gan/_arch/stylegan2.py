"""StyleGAN2 (Karras et al. 2020) in plain PyTorch: no custom CUDA ops, so it runs on any device.

Generator attribute names follow the rosinality layout users' ``.pt`` files carry (``style.N``,
``input.input``, ``conv1``, ``to_rgb1``, ``convs.i``, ``to_rgbs.i``, ``noises.noise_i``), so those
files load with ``load_state_dict`` after shape-based hyperparameter inference. Up/down-sampling
uses FIR filtering ``upfirdn2d`` written with reshape, pad and a depthwise conv.

Reference hyperparameters (config-f): style dim 512, 8 mapping layers with lr multiplier 0.01,
channels min(512, 32768 / resolution), blur kernel [1, 3, 3, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .common import log2_int

SQRT2 = math.sqrt(2.0)


def channel_list(size: int, channel_base: int = 32768, channel_max: int = 512) -> list[int]:
    """Channels at 4, 8, ..., size; config-f is channel_base 32768, channel_max 512."""
    n = log2_int(size, "stylegan2 size")
    return [max(1, min(channel_max, channel_base // 2**r)) for r in range(2, n + 1)]


def make_kernel(k: Sequence[float]) -> torch.Tensor:
    t = torch.tensor(k, dtype=torch.float32)
    if t.ndim == 1:
        t = t[None, :] * t[:, None]
    return t / t.sum()


def upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)
):
    """Zero-insert upsample by ``up``, pad, convolve with the 2-D FIR ``kernel``, keep every ``down``-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    k = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None].expand(c, 1, *kernel.shape)
    return F.conv2d(x, k, stride=down, groups=c)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Linear layer with equalised learning rate (weights scaled at runtime by lr_mul / sqrt(fan_in))."""

    def __init__(
        self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(cin)
        self.lr_mul = lr_mul
        self.activate = activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return F.leaky_relu(F.linear(x, self.weight * self.scale) + self.bias * self.lr_mul, 0.2) * SQRT2
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class FusedLeakyReLU(nn.Module):
    """Bias add, LeakyReLU 0.2 and a sqrt(2) gain that keeps the activations' variance."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2) * SQRT2


class Blur(nn.Module):
    def __init__(self, kernel: Sequence[float], pad: tuple[int, int], upsample_factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", make_kernel(kernel) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self, kernel: Sequence[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", make_kernel(kernel) * factor**2)
        p = len(kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Per-sample weights: scale input channels by the style, then (optionally) demodulate.

    Computed without materialising per-sample weights: the input is scaled by the style, convolved
    with the shared weight, and the output scaled by the demodulation coefficients
    d[n, o] = 1/sqrt(Σ_i s[n, i]² Σ_kk w[o, i]² + 1e-8), which equals convolving with the modulated
    and demodulated weight (StyleGAN2's "non-fused" form). One ordinary convolution over the batch
    is an order of magnitude faster on CPUs than the grouped convolution the fused form needs.
    ``upsample`` uses a stride-2 transposed conv followed by the blur filter (per channel, so it
    commutes with the per-channel demodulation).
    """

    def __init__(self, cin, cout, k, style_dim, demodulate=True, upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.cin, self.cout, self.k = cin, cout, k
        self.weight = nn.Parameter(torch.randn(1, cout, cin, k, k))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)
        self.scale = 1 / math.sqrt(cin * k * k)
        self.demodulate = demodulate
        self.upsample = upsample
        if upsample:
            p = (len(blur_kernel) - 2) - (k - 1)
            self.blur = Blur(blur_kernel, pad=((p + 1) // 2 + 1, p // 2 + 1), upsample_factor=2)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        s = self.modulation(style)  # n × cin
        weight = self.scale * self.weight[0]  # cout × cin × k × k
        x = x * s.view(n, self.cin, 1, 1).to(x.dtype)
        if self.upsample:
            out = F.conv_transpose2d(x, weight.transpose(0, 1).to(x.dtype), stride=2)
        else:
            out = F.conv2d(x, weight.to(x.dtype), padding=self.k // 2)
        if self.demodulate:
            d = torch.rsqrt(s.pow(2) @ weight.pow(2).sum([2, 3]).t() + 1e-8)  # n × cout
            out = out * d.view(n, self.cout, 1, 1).to(out.dtype)
        return self.blur(out) if self.upsample else out


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        return x if noise is None else x + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, n: int) -> torch.Tensor:
        return self.input.expand(n, -1, -1, -1)


class StyledConv(nn.Module):
    def __init__(self, cin, cout, k, style_dim, upsample=False, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, k, style_dim, upsample=upsample, blur_kernel=blur_kernel)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x, style, noise=None):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, cin, style_dim, out_channels=3, upsample=True, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(cin, out_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class StyleGAN2Generator(nn.Module):
    """Mapping network z→w, constant 4×4 input, modulated convs with noise, skip (ToRGB) outputs."""

    def __init__(
        self,
        size: int = 1024,
        style_dim: int = 512,
        n_mlp: int = 8,
        channels: Sequence[int] | None = None,
        lr_mlp: float = 0.01,
        img_channels: int = 3,
        blur_kernel: Sequence[int] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.size, self.style_dim, self.n_mlp, self.lr_mlp = size, style_dim, n_mlp, lr_mlp
        self.img_channels = img_channels
        self.log_size = log2_int(size, "stylegan2 size")
        ch = list(channels) if channels is not None else channel_list(size)
        if len(ch) != self.log_size - 1:
            raise ValueError(f"stylegan2: need {self.log_size - 1} channel counts (4..{size}), got {len(ch)}")
        self.channels = ch
        self.style = nn.Sequential(
            PixelNorm(),
            *[EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True) for _ in range(n_mlp)],
        )
        self.input = ConstantInput(ch[0])
        self.conv1 = StyledConv(ch[0], ch[0], 3, style_dim, blur_kernel=blur_kernel)
        self.to_rgb1 = ToRGB(ch[0], style_dim, img_channels, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = (i + 5) // 2
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, 2**res, 2**res))
        cin = ch[0]
        for cout in ch[1:]:
            self.convs.append(StyledConv(cin, cout, 3, style_dim, upsample=True, blur_kernel=blur_kernel))
            self.convs.append(StyledConv(cout, cout, 3, style_dim, blur_kernel=blur_kernel))
            self.to_rgbs.append(ToRGB(cout, style_dim, img_channels, blur_kernel=blur_kernel))
            cin = cout
        self.register_buffer("latent_avg", torch.zeros(style_dim))

    def hyperparameters(self) -> dict:
        return {
            "size": self.size,
            "style_dim": self.style_dim,
            "n_mlp": self.n_mlp,
            "channels": list(self.channels),
            "lr_mlp": self.lr_mlp,
            "img_channels": self.img_channels,
        }

    def mapping(self, z: torch.Tensor) -> torch.Tensor:
        return self.style(z)

    @torch.no_grad()
    def compute_latent_avg(self, n: int = 4096, seed: int = 0) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.style_dim, generator=g).to(self.latent_avg.device)
        self.latent_avg.copy_(self.mapping(z).mean(0))
        return self.latent_avg

    def broadcast(
        self, w: torch.Tensor, w2: torch.Tensor | None = None, mix_index: int | None = None
    ) -> torch.Tensor:
        """N×D w (and an optional second w for style mixing from layer ``mix_index``) → N×n_latent×D."""
        ws = w.unsqueeze(1).repeat(1, self.n_latent, 1)
        if w2 is not None:
            idx = self.n_latent // 2 if mix_index is None else mix_index
            ws[:, idx:] = w2.unsqueeze(1)
        return ws

    def noise_inputs(self, n: int, mode: str, generator: torch.Generator | None, device) -> list:
        if mode == "none":
            return [None] * self.num_layers
        if mode == "const":
            return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        out = []
        for i in range(self.num_layers):
            r = 2 ** ((i + 5) // 2)
            out.append(torch.randn(n, 1, r, r, generator=generator).to(device))
        return out

    def synthesis(self, ws: torch.Tensor, noise: list | None = None) -> torch.Tensor:
        """N×n_latent×D styles → images (about [-1, 1])."""
        noise = noise if noise is not None else [None] * self.num_layers
        x = self.input(ws.shape[0])
        x = self.conv1(x, ws[:, 0], noise[0])
        skip = self.to_rgb1(x, ws[:, 1])
        i = 1
        for j, to_rgb in enumerate(self.to_rgbs):
            x = self.convs[2 * j](x, ws[:, i], noise[2 * j + 1])
            x = self.convs[2 * j + 1](x, ws[:, i + 1], noise[2 * j + 2])
            skip = to_rgb(x, ws[:, i + 2], skip)
            i += 2
        return skip

    def forward(
        self,
        z: torch.Tensor,
        truncation: float = 1.0,
        noise_mode: str = "const",
        z2: torch.Tensor | None = None,
        mix_index: int | None = None,
        noise: list | None = None,
        return_ws: bool = False,
    ):
        """z (and z2 for style mixing from layer ``mix_index``) → images; ``return_ws`` also gives the styles."""
        w = self.mapping(z)
        w2 = self.mapping(z2) if z2 is not None else None
        if truncation != 1.0:
            w = self.latent_avg + truncation * (w - self.latent_avg)
            w2 = None if w2 is None else self.latent_avg + truncation * (w2 - self.latent_avg)
        ws = self.broadcast(w, w2, mix_index)
        if noise is None:
            noise = self.noise_inputs(z.shape[0], noise_mode, None, z.device)
        img = self.synthesis(ws, noise)
        return (img, ws) if return_ws else img


class ConvLayer(nn.Sequential):
    """Equalised conv, optionally blur + stride-2 (downsample), with a fused LeakyReLU."""

    def __init__(self, cin, cout, k, downsample=False, bias=True, activate=True, blur_kernel=(1, 3, 3, 1)):
        layers: list[nn.Module] = []
        stride, padding = 1, k // 2
        if downsample:
            p = (len(blur_kernel) - 2) + (k - 1)
            layers.append(Blur(blur_kernel, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        layers.append(EqualConv2d(cin, cout, k, stride, padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(cout))
        super().__init__(*layers)


class EqualConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.scale = 1 / math.sqrt(cin * k * k)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, self.bias, stride=self.stride, padding=self.padding)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, blur_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3, blur_kernel=blur_kernel)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True, blur_kernel=blur_kernel)
        self.skip = ConvLayer(
            cin, cout, 1, downsample=True, activate=False, bias=False, blur_kernel=blur_kernel
        )

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


class StyleGAN2Discriminator(nn.Module):
    """Residual discriminator with a minibatch-stddev feature before the final layers."""

    def __init__(
        self,
        size: int = 1024,
        channels: Sequence[int] | None = None,
        img_channels: int = 3,
        stddev_group: int = 4,
    ):
        super().__init__()
        log_size = log2_int(size, "stylegan2 size")
        ch = list(channels) if channels is not None else channel_list(size)
        self.stddev_group = stddev_group
        self.from_rgb = ConvLayer(img_channels, ch[-1], 1)
        self.blocks = nn.Sequential(*[ResBlock(ch[i], ch[i - 1]) for i in range(log_size - 2, 0, -1)])
        self.final_conv = ConvLayer(ch[0] + 1, ch[0], 3)
        self.final_linear = nn.Sequential(
            EqualLinear(ch[0] * 16, ch[0], activate=True), EqualLinear(ch[0], 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks(self.from_rgb(x))
        n, c, h, w = out.shape
        group = min(n, self.stddev_group)
        while n % group:
            group -= 1
        y = out.view(group, -1, 1, c, h, w)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        y = y.repeat(group, 1, h, w)
        out = self.final_conv(torch.cat([out, y], 1))
        return self.final_linear(out.flatten(1)).flatten()


def infer_generator_config(state: dict[str, torch.Tensor]) -> dict:
    """Hyperparameters from a rosinality-layout ``g_ema`` state dict (lr_mlp cannot be read; 0.01)."""
    n_mlp = len([k for k in state if k.startswith("style.") and k.endswith(".weight")])
    n_rgbs = len({k.split(".")[1] for k in state if k.startswith("to_rgbs.")})
    channels = [int(state["conv1.conv.weight"].shape[1])]
    channels += [int(state[f"convs.{2 * j}.conv.weight"].shape[1]) for j in range(n_rgbs)]
    return {
        "size": 2 ** (n_rgbs + 2),
        "style_dim": int(state["conv1.conv.modulation.weight"].shape[1]),
        "n_mlp": n_mlp,
        "channels": channels,
        "img_channels": int(state["to_rgb1.conv.weight"].shape[1]),
    }
