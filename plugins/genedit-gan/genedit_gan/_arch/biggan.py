"""BigGAN / BigGAN-deep (Brock et al. 2019): class-conditional G with spectral norm everywhere.

The generator's module names are those of the pytorch-pretrained-BigGAN layout (``embeddings``,
``generator.gen_z``, ``generator.layers.i`` with ``bn_0..3``/``conv_0..3`` bottleneck blocks, a
``SelfAttn`` layer with ``snconv1x1_*`` and ``gamma``, ``generator.bn``, ``generator.conv_to_rgb``)
so those checkpoints load as they are. Facts of that layout kept here:

* G input is ``gen_z(cat(z, embed))`` viewed as N×4×4×C and permuted to N×C×4×4 (TF order).
* Batch-norm statistics are stored for ``n_stats`` truncation values on a grid over [0, 1] and
  interpolated between neighbours, weighting the lower entry by the fractional part (their code's
  convention, reproduced so outputs match).
* Only the first 3 channels of ``conv_to_rgb`` are used.

``hierarchical=True`` splits z into one chunk per block plus one for ``gen_z`` (original BigGAN);
``False`` feeds the whole z to every block (BigGAN-deep). The projection discriminator with residual
blocks, spectral norm and self-attention is ours (no public D weights exist).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .common import SNConv2d, SNEmbedding, SNLinear

# BigGAN-deep at 128×128: (upsample, in multiplier, out multiplier) per block, attention before block 8.
DEEP_128_LAYERS = [
    (False, 16, 16),
    (True, 16, 16),
    (False, 16, 16),
    (True, 16, 8),
    (False, 8, 8),
    (True, 8, 4),
    (False, 4, 4),
    (True, 4, 2),
    (False, 2, 2),
    (True, 2, 1),
]


class SelfAttn(nn.Module):
    """Non-local attention with 2×2 max-pooled keys/values and a learned gate ``gamma`` (init 0)."""

    def __init__(self, ch: int, eps: float = 1e-12):
        super().__init__()
        self.snconv1x1_theta = SNConv2d(ch, ch // 8, 1, bias=False, eps=eps)
        self.snconv1x1_phi = SNConv2d(ch, ch // 8, 1, bias=False, eps=eps)
        self.snconv1x1_g = SNConv2d(ch, ch // 2, 1, bias=False, eps=eps)
        self.snconv1x1_o_conv = SNConv2d(ch // 2, ch, 1, bias=False, eps=eps)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        theta = self.snconv1x1_theta(x).flatten(2)
        phi = F.max_pool2d(self.snconv1x1_phi(x), 2).flatten(2)
        attn = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)
        g = F.max_pool2d(self.snconv1x1_g(x), 2).flatten(2)
        out = (g @ attn.transpose(1, 2)).view(n, c // 2, h, w)
        return x + self.gamma * self.snconv1x1_o_conv(out)


class BigGANBatchNorm(nn.Module):
    """Batch norm with class-conditional gain/bias and truncation-indexed statistics.

    Training uses batch statistics and updates row 0 of the running statistics; evaluation reads
    the rows for the requested truncation (only row 0 when ``n_stats`` is 1, our own models).
    """

    def __init__(
        self,
        num_features: int,
        cond_dim: int | None = None,
        n_stats: int = 1,
        eps: float = 1e-4,
        momentum: float = 0.1,
    ):
        super().__init__()
        self.eps, self.momentum, self.n_stats = eps, momentum, n_stats
        self.register_buffer("running_means", torch.zeros(n_stats, num_features))
        self.register_buffer("running_vars", torch.ones(n_stats, num_features))
        self.conditional = cond_dim is not None
        if self.conditional:
            self.scale = SNLinear(cond_dim, num_features, bias=False, eps=eps)
            self.offset = SNLinear(cond_dim, num_features, bias=False, eps=eps)
        else:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))

    def stats(self, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
        if self.n_stats == 1:
            return self.running_means[0], self.running_vars[0]
        coef, start = math.modf(truncation * (self.n_stats - 1))
        start = int(start)
        if coef == 0.0 or start + 1 >= self.n_stats:
            return self.running_means[start], self.running_vars[start]
        mean = self.running_means[start] * coef + self.running_means[start + 1] * (1 - coef)
        var = self.running_vars[start] * coef + self.running_vars[start + 1] * (1 - coef)
        return mean, var

    def forward(self, x: torch.Tensor, truncation: float, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.training:
            mean = x.mean((0, 2, 3))
            var = x.var((0, 2, 3), unbiased=False)
            with torch.no_grad():
                n = x.numel() / x.shape[1]
                self.running_means[0].lerp_(mean, self.momentum)
                self.running_vars[0].lerp_(var * n / max(n - 1, 1), self.momentum)
        else:
            mean, var = self.stats(truncation)
        xn = (x - mean.view(1, -1, 1, 1)) * torch.rsqrt(var.view(1, -1, 1, 1) + self.eps)
        if self.conditional:
            gain = 1 + self.scale(cond)
            return xn * gain[:, :, None, None] + self.offset(cond)[:, :, None, None]
        return xn * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class GenBlock(nn.Module):
    """Bottleneck residual block (1×1 reduce, two 3×3, 1×1 expand); the skip drops channels."""

    def __init__(
        self, cin: int, cout: int, cond_dim: int, up: bool, n_stats: int, eps: float, reduction: int = 4
    ):
        super().__init__()
        mid = cin // reduction
        self.up = up
        self.cout = cout
        self.bn_0 = BigGANBatchNorm(cin, cond_dim, n_stats, eps)
        self.conv_0 = SNConv2d(cin, mid, 1, eps=eps)
        self.bn_1 = BigGANBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_1 = SNConv2d(mid, mid, 3, padding=1, eps=eps)
        self.bn_2 = BigGANBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_2 = SNConv2d(mid, mid, 3, padding=1, eps=eps)
        self.bn_3 = BigGANBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_3 = SNConv2d(mid, cout, 1, eps=eps)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        h = self.conv_0(F.relu(self.bn_0(x, truncation, cond)))
        h = F.relu(self.bn_1(h, truncation, cond))
        if self.up:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv_1(h)
        h = self.conv_2(F.relu(self.bn_2(h, truncation, cond)))
        h = self.conv_3(F.relu(self.bn_3(h, truncation, cond)))
        skip = x[:, : self.cout]
        if self.up:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip


class Generator(nn.Module):
    def __init__(self, ch, layers, attention_pos, cond_dim, n_stats, eps, rgb_out):
        super().__init__()
        self.c0 = layers[0][1] * ch
        self.gen_z = SNLinear(cond_dim, 16 * self.c0, eps=eps)
        mods: list[nn.Module] = []
        for i, (up, a, b) in enumerate(layers):
            if i == attention_pos:
                mods.append(SelfAttn(a * ch, eps=eps))
            mods.append(GenBlock(a * ch, b * ch, cond_dim, bool(up), n_stats, eps))
        self.layers = nn.ModuleList(mods)
        self.bn = BigGANBatchNorm(layers[-1][2] * ch, None, n_stats, eps)
        self.conv_to_rgb = SNConv2d(layers[-1][2] * ch, rgb_out, 3, padding=1, eps=eps)


class BigGAN(nn.Module):
    """Class-conditional generator: ``forward(z, y, truncation)`` with integer or one-hot labels."""

    def __init__(
        self,
        z_dim: int = 128,
        embed_dim: int = 128,
        num_classes: int = 1000,
        channel_width: int = 128,
        layers: Sequence[Sequence] = DEEP_128_LAYERS,
        attention_pos: int | None = 8,
        n_stats: int = 51,
        eps: float = 1e-4,
        hierarchical: bool = False,
        img_channels: int = 3,
        rgb_out: int | None = None,
    ):
        super().__init__()
        self.layer_spec = [(bool(u), int(a), int(b)) for u, a, b in layers]
        self.z_dim, self.embed_dim, self.num_classes = z_dim, embed_dim, num_classes
        self.channel_width, self.attention_pos, self.n_stats, self.eps = (
            channel_width,
            attention_pos,
            n_stats,
            eps,
        )
        self.hierarchical, self.img_channels = hierarchical, img_channels
        self.rgb_out = rgb_out or channel_width * int(
            self.layer_spec[-1][2]
        )  # published: all ch, first 3 used
        n_blocks = len(self.layer_spec)
        if hierarchical:
            if z_dim % (n_blocks + 1):
                raise ValueError(f"biggan: z_dim {z_dim} must split evenly into {n_blocks + 1} chunks")
            self.chunk = z_dim // (n_blocks + 1)
        else:
            self.chunk = z_dim
        self.size = 4 * 2 ** sum(u for u, _, _ in self.layer_spec)
        self.embeddings = nn.Linear(num_classes, embed_dim, bias=False)
        self.generator = Generator(
            channel_width, self.layer_spec, attention_pos, self.chunk + embed_dim, n_stats, eps, self.rgb_out
        )

    def hyperparameters(self) -> dict:
        return {
            "z_dim": self.z_dim,
            "embed_dim": self.embed_dim,
            "num_classes": self.num_classes,
            "channel_width": self.channel_width,
            "layers": [list(x) for x in self.layer_spec],
            "attention_pos": self.attention_pos,
            "n_stats": self.n_stats,
            "eps": self.eps,
            "hierarchical": self.hierarchical,
            "img_channels": self.img_channels,
            "rgb_out": self.rgb_out,
        }

    def embed(self, y: torch.Tensor) -> torch.Tensor:
        if y.dtype in (torch.int64, torch.int32):
            return self.embeddings.weight.t()[y]
        return self.embeddings(y)

    def forward(self, z: torch.Tensor, y: torch.Tensor, truncation: float = 1.0) -> torch.Tensor:
        g = self.generator
        e = self.embed(y)
        n_blocks = len(self.layer_spec)
        zs = z.split(self.chunk, dim=1) if self.hierarchical else [z] * (n_blocks + 1)
        h = g.gen_z(torch.cat([zs[0], e], 1)).view(z.shape[0], 4, 4, g.c0).permute(0, 3, 1, 2)
        k = 1
        for layer in g.layers:
            if isinstance(layer, GenBlock):
                h = layer(h, torch.cat([zs[k], e], 1), truncation)
                k += 1
            else:
                h = layer(h)
        h = g.conv_to_rgb(F.relu(g.bn(h, truncation)))
        return torch.tanh(h[:, : self.img_channels])


class DBlock(nn.Module):
    """Pre-activation residual block with 2×2 average-pool downsampling and a learned 1×1 shortcut."""

    def __init__(self, cin: int, cout: int, down: bool = True, first: bool = False):
        super().__init__()
        self.conv1 = SNConv2d(cin, cout, 3, padding=1)
        self.conv2 = SNConv2d(cout, cout, 3, padding=1)
        self.sc = SNConv2d(cin, cout, 1) if (cin != cout or down) else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.sc is not None:
            s = self.sc(s)
        if self.down:
            s = F.avg_pool2d(s, 2)
        return h + s


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = linear(φ(x)) + <embed(y), φ(x)>, φ = residual blocks with SN and one attention layer."""

    def __init__(
        self, channels: Sequence[int], num_classes: int, img_channels: int = 3, attention_pos: int | None = 1
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        cin = img_channels
        for i, c in enumerate(channels):
            if attention_pos is not None and i == attention_pos:
                blocks.append(SelfAttn(cin))
            blocks.append(DBlock(cin, c, down=i < len(channels) - 1, first=i == 0))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.linear = SNLinear(cin, 1)
        self.embed = SNEmbedding(num_classes, cin)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.blocks(x)).sum((2, 3))
        return self.linear(h).flatten() + (self.embed(y) * h).sum(1)


def infer_config(state: dict[str, torch.Tensor], config: dict | None = None) -> dict:
    """Hyperparameters of a pytorch-pretrained-BigGAN state dict, with ``config.json`` values preferred.

    Up-sampling cannot be read from weights; without a ``layers`` entry the BigGAN-deep pattern is
    assumed (every second block doubles the resolution).
    """
    config = dict(config or {})
    emb = state["embeddings.weight"]
    cond_dim = int(state["generator.gen_z.weight_orig"].shape[1])
    idx = sorted({int(k.split(".")[2]) for k in state if k.startswith("generator.layers.")})
    attn = [i for i in idx if f"generator.layers.{i}.gamma" in state]
    blocks = [i for i in idx if i not in attn]
    chans = [
        (
            int(state[f"generator.layers.{i}.conv_0.weight_orig"].shape[1]),
            int(state[f"generator.layers.{i}.conv_3.weight_orig"].shape[0]),
        )
        for i in blocks
    ]
    rgb = state["generator.conv_to_rgb.weight_orig"]
    ch = int(config.get("channel_width", rgb.shape[1]))
    hierarchical = bool(config.get("hierarchical", False))
    embed_dim = int(emb.shape[0])
    chunk = cond_dim - embed_dim
    if "layers" in config:
        layers = [(bool(u), int(a), int(b)) for u, a, b in config["layers"]]
    else:
        layers = [(k % 2 == 1, a // ch, b // ch) for k, (a, b) in enumerate(chans)]
    return {
        "z_dim": int(config.get("z_dim", chunk * (len(blocks) + 1) if hierarchical else chunk)),
        "embed_dim": embed_dim,
        "num_classes": int(emb.shape[1]),
        "channel_width": ch,
        "layers": layers,
        "attention_pos": attn[0] if attn else None,
        "n_stats": int(state["generator.bn.running_means"].shape[0]),
        "eps": float(config.get("eps", 1e-4)),
        "hierarchical": hierarchical,
        "img_channels": int(config.get("img_channels", min(3, rgb.shape[0]))),
        "rgb_out": int(rgb.shape[0]),
    }
