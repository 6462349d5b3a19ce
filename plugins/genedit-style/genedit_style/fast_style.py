"""Johnson et al. (2016) fast style transfer: a feed-forward network trained with perceptual losses.

Imports torch, so only hook bodies import this module.

``TransformerNet`` has pytorch/examples ``fast_neural_style``'s architecture and key names, so its
published checkpoints load: a 9×9 conv (32), two stride-2 3×3 convs (64, 128), five residual
blocks, two nearest-upsample + 3×3 convs (64, 32) and a 9×9 conv to RGB, reflection padding and
affine instance norm throughout, on 0-255 input and output. Keys: ``conv{1,2,3}.conv2d.*``,
``in{1..5}.weight/bias``, ``res{1..5}.conv{1,2}.conv2d.*``, ``res{1..5}.in{1,2}.*``,
``deconv{1,2,3}.conv2d.*``. Old checkpoints also carry ``in*.running_mean/var`` from an
InstanceNorm that tracked statistics (pytorch/examples #367): instance norm never uses them in
this network, so they are dropped on loading. The width (32 in the paper) is read from the shapes.

Training (:class:`FastStyleTask`, run by the core trainer through ``genedit train fast-style``)
minimises the perceptual loss of a VGG feature network on random photo crops: content (feature
distance at ``conv2_2``, Johnson's relu2_2) plus style (Gram distance at conv1_2, conv2_2, conv3_3,
conv4_3) against one style image, plus total variation; each term divided by the size of its
target, as in :mod:`genedit_style.gatys`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from genedit_core.sdk import (
    Field,
    LoadedModel,
    TrainTask,
    WeightsError,
    canonicalize,
    load_state_dict,
    load_strict,
    resolve_data,
)

from .features import VGGFeatures, build_features, gram, resize_longest

# what an InstanceNorm with track_running_stats saved in old pytorch/examples checkpoints
_STALE_NORM_STATS = re.compile(r"(res\d\.)?in\d\.(running_mean|running_var|num_batches_tracked)")
CONTENT_LAYERS = ("conv2_2",)
STYLE_LAYERS = ("conv1_2", "conv2_2", "conv3_3", "conv4_3")
BUNDLED_FEATURES = "gatys:vgg16-hed (bundled weights/vgg16-hed.safetensors)"


class ConvLayer(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, upsample: int = 1) -> None:
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.pad(x))


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(channels, channels, 3), _norm(channels)
        self.conv2, self.in2 = ConvLayer(channels, channels, 3), _norm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """Image (N×3×H×W, 0-255) to stylised image (0-255, unclamped), pytorch/examples' layout."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.conv1, self.in1 = ConvLayer(3, w, 9), _norm(w)
        self.conv2, self.in2 = ConvLayer(w, 2 * w, 3, 2), _norm(2 * w)
        self.conv3, self.in3 = ConvLayer(2 * w, 4 * w, 3, 2), _norm(4 * w)
        for i in range(1, 6):
            setattr(self, f"res{i}", ResidualBlock(4 * w))
        self.deconv1, self.in4 = ConvLayer(4 * w, 2 * w, 3, upsample=2), _norm(2 * w)
        self.deconv2, self.in5 = ConvLayer(2 * w, w, 3, upsample=2), _norm(w)
        self.deconv3 = ConvLayer(w, 3, 9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.in1(self.conv1(x)))
        h = F.relu(self.in2(self.conv2(h)))
        h = F.relu(self.in3(self.conv3(h)))
        for i in range(1, 6):
            h = getattr(self, f"res{i}")(h)
        h = F.relu(self.in4(self.deconv1(h)))
        h = F.relu(self.in5(self.deconv2(h)))
        return self.deconv3(h)


def stylize_01(net: TransformerNet, x: torch.Tensor) -> torch.Tensor:
    """The genedit convention around ``net``: RGB 0-1 in and out (sides padded to a multiple of 4)."""
    h, w = x.shape[-2:]
    # always padded (by 0 on a multiple of 4), replicating the border: no branch on the size, so
    # an ONNX export with symbolic height and width computes the same as PyTorch at any size
    x = F.pad(x, (0, (-w) % 4, 0, (-h) % 4), mode="replicate")
    y = net(x * 255) / 255
    return y[..., :h, :w].clamp(0, 1)


def from_state(state: dict[str, Any], origin: str) -> TransformerNet:
    """The TransformerNet ``state`` holds, loaded strictly (InstanceNorm running stats dropped)."""
    if "conv1.conv2d.weight" not in state:
        found = ", ".join(sorted(state)[:4]) or "no tensors"
        raise WeightsError(
            f"{origin}: not a fast-style TransformerNet (need conv1.conv2d.weight, res1..res5, "
            f"deconv1..3 as pytorch/examples names them); found {found}"
        )
    tensors = {k: v for k, v in state.items() if not _STALE_NORM_STATS.fullmatch(k)}
    net = TransformerNet(int(state["conv1.conv2d.weight"].shape[0]))
    load_strict(net, tensors, origin)
    return net


def build(request: Any) -> LoadedModel:
    origin = request.weights.origin if request.weights else request.card.name
    net = from_state(request.state_dict, origin).eval().to(device=request.device, dtype=request.dtype)
    config = request.weights.config if request.weights else {}
    return LoadedModel(
        card=request.card,
        module=net,
        forward=lambda x: stylize_01(net, x),
        device=request.device,
        dtype=request.dtype,
        tileable=False,  # instance norm: statistics of the whole image
        receptive_field=0,
        hyperparameters={
            "width": int(net.conv1.conv2d.out_channels),
            "feature_network": config.get("feature_network", "unknown (not recorded with these weights)"),
            "style_image": config.get("style_image", "unknown"),
        },
    )


# A crop this flat (black sky, a scan's border) teaches nothing, and instance norm of it has
# near-zero variance: its gradients blew a run up to NaN at step 47. Up to FLAT_TRIES crops are
# drawn and the first that is not flat (else the most varied) is used.
FLAT_STD, FLAT_TRIES = 0.02, 10


class PhotoCrops:
    """Random square crops of the training photos (grey ones made RGB, flat ones redrawn), flipped
    at random.

    ``get(index, generator)`` is what the trainer calls, with a generator seeded from (seed, epoch,
    position), so a resumed run sees the same crops.
    """

    def __init__(self, images: Any, size: int, length: int) -> None:
        self.images = [self._rgb(images[i]) for i in range(len(images))]
        self.size, self.length = size, length

    @staticmethod
    def _rgb(x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return x.expand(3, -1, -1) if x.shape[0] == 1 else x[:3]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index, torch.Generator().manual_seed(index))

    def get(self, index: int, generator: torch.Generator) -> torch.Tensor:
        img = self.images[index % len(self.images)]
        h, w = img.shape[-2:]
        if min(h, w) < self.size:  # small photos are scaled up to fit one crop
            f = self.size / min(h, w)
            img = F.interpolate(img[None], size=(max(self.size, round(h * f)), max(self.size, round(w * f))),
                                mode="bilinear", align_corners=False)[0].clamp(0, 1)  # fmt: skip
            h, w = img.shape[-2:]
        best = None
        for _ in range(FLAT_TRIES):
            top = int(torch.randint(0, h - self.size + 1, (1,), generator=generator))
            left = int(torch.randint(0, w - self.size + 1, (1,), generator=generator))
            crop = img[:, top : top + self.size, left : left + self.size]
            if best is None or float(crop.std()) > float(best.std()):
                best = crop
            if float(crop.std()) >= FLAT_STD:
                break
        crop = best
        if bool(torch.rand((), generator=generator) < 0.5):
            crop = crop.flip(-1)
        return crop.contiguous()


class FastStyleTask(TrainTask):
    """``genedit train fast-style --data PHOTOS --set style.image=PAINTING``: one network per style."""

    name = "fast-style"
    export_net = "model"
    default_config = {
        "model": {"width": 32},
        "data": {"size": 128, "epoch_length": 2000},
        "style": {"image": None, "features": None, "size": 256},
        "loss": {"content_weight": 1.0, "style_weight": 10.0, "tv_weight": 1e-3},
        # clipping: a nearly flat crop has tiny content features, and a loss divided by their
        # size can spike (a bf16 run with lr 2e-3 went to NaN at step 50 without it)
        "train": {"steps": 2000, "batch_size": 4, "lr": 1e-3, "grad_clip": {"type": "norm", "max": 5.0}},
    }
    config_fields = {
        "model.width": Field("int", ge=1, le=256),
        "data.size": Field("int", ge=16),
        "data.epoch_length": Field("int", ge=1),
        "style.image": Field("str", optional=True),
        "style.features": Field("str", optional=True),
        "style.size": Field("int", ge=16),
    }

    def __init__(self) -> None:
        self._vgg: VGGFeatures | None = None
        self._targets: dict[str, torch.Tensor] = {}
        self.feature_origin = ""

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        return {"model": TransformerNet(int(cfg["model"]["width"]))}

    def build_optimizers(
        self, nets: dict[str, nn.Module], cfg: dict[str, Any]
    ) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(nets["model"].parameters(), lr=float(cfg["train"]["lr"]))}

    def build_dataset(self, data: Path | None, cfg: dict[str, Any]) -> PhotoCrops:
        d = cfg["data"]
        return PhotoCrops(resolve_data(data), int(d["size"]), int(d["epoch_length"]))

    def loss_network(self, cfg: dict[str, Any], device: Any) -> VGGFeatures:
        """The frozen VGG and the style's Gram targets, built once on the training device."""
        if self._vgg is None:
            from .styleimage import bundled_style_path, read_style

            spec = cfg["style"]["features"]
            path = (
                Path(spec) if spec else bundled_style_path().parents[1] / "weights" / "vgg16-hed.safetensors"
            )
            self.feature_origin = str(spec) if spec else BUNDLED_FEATURES
            vgg = build_features(canonicalize(load_state_dict(path)), self.feature_origin)
            self._vgg = vgg.eval().requires_grad_(False).to(device)
            style = read_style(cfg["style"]["image"])
            style = resize_longest(style, int(cfg["style"]["size"])).to(device)
            with torch.no_grad():
                feats = self._vgg(style, STYLE_LAYERS)
            self._targets = {n: gram(feats[n]) for n in STYLE_LAYERS}
        return self._vgg

    def losses(self, out: torch.Tensor, x: torch.Tensor, cfg: dict[str, Any]) -> dict[str, torch.Tensor]:
        vgg = self.loss_network(cfg, x.device)
        layers = list(dict.fromkeys([*CONTENT_LAYERS, *STYLE_LAYERS]))
        fy = vgg(out, layers)
        with torch.no_grad():
            fx = vgg(x, CONTENT_LAYERS)
        content = sum(
            ((fy[n] - fx[n]) ** 2).sum() / (fx[n] ** 2).sum().clamp_min(1e-12) for n in CONTENT_LAYERS
        )
        style = sum(
            ((gram(fy[n]) - t) ** 2).sum((1, 2)).div((t**2).sum().clamp_min(1e-12)).mean()
            for n, t in self._targets.items()
        ) / len(self._targets)
        tv = (out[..., 1:, :] - out[..., :-1, :]).abs().mean() + (
            out[..., :, 1:] - out[..., :, :-1]
        ).abs().mean()
        return {"content": content, "style": style, "tv": tv}

    def train_step(self, batch: Any, ctx: Any) -> dict[str, float]:
        x = batch.to(ctx.device)
        w = ctx.cfg["loss"]
        with ctx.autocast():
            out = ctx.nets["model"](x * 255).float() / 255
        terms = self.losses(out, x, ctx.cfg)
        loss = (
            w["content_weight"] * terms["content"]
            + w["style_weight"] * terms["style"]
            + w["tv_weight"] * terms["tv"]
        )
        ctx.backward(loss)
        ctx.step_optimizer("model")
        return {k: v.detach() for k, v in terms.items()} | {"loss": loss.detach()}

    def sample(self, nets: dict[str, nn.Module], ctx: Any) -> torch.Tensor | None:
        return None

    def export_config(self, nets: dict[str, nn.Module], cfg: dict[str, Any]) -> dict[str, Any]:
        return {
            "width": int(cfg["model"]["width"]),
            "feature_network": self.feature_origin or BUNDLED_FEATURES,
            "style_image": str(cfg["style"]["image"] or "bundled swirls.png"),
        }
