"""Face swap training for the shared trainer: the shared encoder and two decoders of
:mod:`genedit_faceswap.autoencoder`, on two folders of aligned face crops (``genedit faceswap
extract`` writes them).

One step, for a batch of faces of A and a batch of B: each face is randomly transformed (rotation,
scale, shift and flip, applied to input and target alike) and then randomly warped (a smooth
displacement field, applied to the input only), the way deepfakes/faceswap augments; the
network reconstructs the unwarped face through the identity's own decoder. Loss: L1 + ``loss.ssim``
· (1 − SSIM), summed over both identities, one Adam optimizer for all three networks. The warp is
what makes the encoder describe the face rather than copy pixels. Every random draw comes from the
trainer's seeded per-item generators, so a resumed run repeats an uninterrupted one.

As faceswap's eye and mouth multipliers do, both loss terms count the eye regions
``loss.eye_multiplier`` times (default 3) and the mouth region ``loss.mouth_multiplier`` times
(default 2): those few pixels carry the gaze and the expression a swap must keep, and an
unweighted loss lets a small decoder blur them away. The regions are drawn around the alignment
template's eyes and mouth (:func:`region_masks`), where every aligned crop has them, and follow
each face through its random transform.

With ``loss.code_adversary`` (a weight; 0, the default, is off), a small classifier on the shared
code learns to tell A's code from B's, and the encoder is trained to confuse it
(:func:`code_adversary_terms`): B's decoder reads any identity trait left in A's code as pose.
``loss.code_adversary_net``, ``_width``, ``_steps`` and ``_ramp`` make that classifier stronger
(on the flattened code map, wider, several updates per step) and bring its weight in gradually
(:func:`adversary_weight`), so that it can win against the reconstruction loss.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, UsageError

from .align import template
from .autoencoder import CodeAdversary, FaceSwapAE, coverage_window

# the regions the eye and mouth multipliers weight, in inter-ocular distances (IOD) of the template:
# a disc around each eye; an ellipse around the mouth corners, tall enough for an open mouth or a smile
EYE_RADIUS = 0.3
MOUTH_MARGIN, MOUTH_HALF_HEIGHT = 0.2, 0.4


def _square(img: torch.Tensor, size: int) -> torch.Tensor:
    """A C×H×W crop as 3×size×size floats in 0-1 (grey made RGB)."""
    img = img.float()
    img = img[:1].expand(3, -1, -1) if img.shape[0] == 1 else img[:3]
    if img.shape[-2:] != (size, size):
        img = F.interpolate(
            img[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )[0]
    return img.clamp(0, 1)


def random_transform(
    img: torch.Tensor, gen: torch.Generator, rotate: float, zoom: float, shift: float
) -> torch.Tensor:
    """``img`` rotated (±``rotate`` degrees), zoomed (±``zoom``), shifted (±``shift`` of the side), maybe flipped."""
    u = torch.rand(5, generator=gen) * 2 - 1
    angle, scale = math.radians(float(u[0]) * rotate), 1 + float(u[1]) * zoom
    flip = -1.0 if float(u[4]) > 0 else 1.0
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    theta = torch.tensor(
        [[cos * flip, -sin, float(u[2]) * shift * 2], [sin * flip, cos, float(u[3]) * shift * 2]]
    )
    grid = F.affine_grid(theta[None], [1, *img.shape], align_corners=False)
    return F.grid_sample(img[None], grid, padding_mode="border", align_corners=False)[0]


def random_warp(img: torch.Tensor, gen: torch.Generator, amount: float) -> torch.Tensor:
    """``img`` bent by a smooth random field: 5×5 control offsets (std ``amount`` of the side), upsampled."""
    size = img.shape[-1]
    offsets = torch.randn(1, 2, 5, 5, generator=gen) * amount * 2
    field = F.interpolate(offsets, size=(size, size), mode="bicubic", align_corners=True)[0].permute(1, 2, 0)
    base = F.affine_grid(torch.eye(2, 3)[None], [1, *img.shape], align_corners=False)[0]
    return F.grid_sample(img[None], (base + field)[None], padding_mode="border", align_corners=False)[0]


def region_masks(size: int, padding: float = 0.25) -> torch.Tensor:
    """2×size×size: the eye regions (channel 0) and the mouth region (channel 1) of an aligned
    crop, 0 or 1, placed by the alignment template (:func:`genedit_faceswap.align.template`)."""
    points = template(size, padding)
    iod = float((points[1] - points[0]).norm())
    centres = torch.arange(size, dtype=torch.float32) + 0.5
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    eyes = torch.zeros(size, size, dtype=torch.bool)
    for eye in points[:2]:
        eyes |= (xs - eye[0]) ** 2 + (ys - eye[1]) ** 2 <= (EYE_RADIUS * iod) ** 2
    left, right = points[3], points[4]
    centre = (left + right) / 2
    half_width = float((right - left).norm()) / 2 + MOUTH_MARGIN * iod
    mouth = ((xs - centre[0]) / half_width) ** 2 + ((ys - centre[1]) / (MOUTH_HALF_HEIGHT * iod)) ** 2 <= 1
    return torch.stack([eyes, mouth]).float()


def loss_weights(
    regions: torch.Tensor | None,
    eye: float,
    mouth: float,
    face: torch.Tensor | None = None,
    face_weight: float = 1,
) -> torch.Tensor | None:
    """N×1×H×W per-pixel loss weights: 1, times ``face_weight`` on ``face`` (a learnt mask's
    target), times ``eye`` / ``mouth`` on those ``regions`` (N×2×H×W); None when all are 1."""
    weight = None
    if face is not None and face_weight != 1:
        weight = 1 + (face_weight - 1) * face
    if regions is not None and (eye != 1 or mouth != 1):
        parts = 1 + (eye - 1) * regions[:, :1] + (mouth - 1) * regions[:, 1:2]
        weight = parts if weight is None else weight * parts
    return weight


class TwoFaces:
    """Aligned crops of A and B: item i is (warped A, A, warped B, B) for A[i mod |A|], B[i mod |B|];
    with ``mask`` (a K×size×size stack of masks: the face's, the eye and mouth regions),
    (warped A, A, masks of A, warped B, B, masks of B), each mask carried through its face's
    random transform."""

    def __init__(self, a: Any, b: Any, size: int, aug: dict[str, float], mask: torch.Tensor | None = None):
        self.a, self.b, self.size, self.aug, self.mask = a, b, size, aug, mask

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def face(self, items: Any, index: int) -> torch.Tensor:
        item = items[index % len(items)]
        return _square(item[0] if isinstance(item, tuple) else item, self.size)

    def pair(self, img: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        a = self.aug
        if self.mask is not None:  # one transform for the face and its mask (the same draws)
            img = torch.cat([img, self.mask])
        target = random_transform(img, gen, a["rotate"], a["zoom"], a["shift"])
        mask, target = target[3:], target[:3]
        warped = random_warp(target, gen, a["warp"]).clamp(0, 1), target.clamp(0, 1)
        return (*warped, mask.clamp(0, 1)) if self.mask is not None else warped

    def get(self, index: int, gen: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (*self.pair(self.face(self.a, index), gen), *self.pair(self.face(self.b, index), gen))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        return self.get(index, torch.Generator().manual_seed(index))


def ssim_loss(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """1 − mean SSIM (Gaussian window σ 1.5, at most 11 px; constants for a 0-1 range), differentiable;
    with ``weight`` (N×1×H×W), the SSIM map's mean weighted by it at each window's centre."""
    k = min(11, x.shape[-1], x.shape[-2])
    t = torch.arange(k, dtype=x.dtype, device=x.device) - (k - 1) / 2
    g = torch.exp(-(t**2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(x.shape[1], 1, k, k).contiguous()

    def blur(z: torch.Tensor) -> torch.Tensor:
        return F.conv2d(z, window, groups=x.shape[1])

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    if weight is None:
        return 1 - s.mean()
    h, w = s.shape[-2:]
    top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
    centre = weight[..., top : top + h, left : left + w].expand_as(s)
    return 1 - (s * centre).sum() / centre.sum().clamp(min=1e-12)


def _multiplied(cfg: dict[str, Any]) -> bool:
    """Whether the eye or mouth multiplier weights the loss (the dataset then carries the regions)."""
    lc = cfg["loss"]
    return float(lc.get("eye_multiplier", 1)) != 1 or float(lc.get("mouth_multiplier", 1)) != 1


def adversary_weight(weight: float, step: int, ramp: int) -> float:
    """The confusion's weight at ``step``: ``weight`` × (2 / (1 + exp(−10 p)) − 1), p = step / ``ramp``
    capped at 1 (DANN's schedule, Ganin and Lempitsky 2015); ``weight`` throughout when ``ramp`` is 0.

    Early on the code is still forming and the classifier has learnt nothing, so a full-weight
    confusion pushes the encoder along noise and can keep the reconstruction from settling; the
    ramp lets the code take shape first, then asks for it to say nothing about who it came from."""
    if ramp <= 0:
        return weight
    p = min(1.0, step / ramp)
    return weight * (2 / (1 + math.exp(-10 * p)) - 1)


def identity_labels(code: torch.Tensor, count_a: int) -> torch.Tensor:
    """0 for A's ``count_a`` codes (first in the batch), 1 for B's: what the adversary predicts."""
    return torch.cat([code.new_zeros(count_a), code.new_ones(len(code) - count_a)])


def code_adversary_terms(
    code: torch.Tensor, count_a: int, adversary: nn.Module, raw_adversary: nn.Module
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """(confusion, adversary loss, logs) for the shared ``code`` of a batch (A's ``count_a`` first).

    The decoders read any identity trait left in the code as pose (a B decoder handed the code of
    A's larger eyes draws B's eyes shifted), and A and B come with the same spread of poses, so a
    code that says nothing about who it came from loses no pose. The adversary (:class:`CodeAdversary`)
    learns to tell A's code from B's, on the code detached so that its loss moves only it. The
    confusion term (Tzeng et al. 2015's domain confusion: binary cross-entropy toward 1/2 for every
    face, less its floor ln 2, so 0 when the adversary is at chance) reaches the encoder through
    the adversary's current weights held fixed, so it moves only the encoder. Unlike gradient
    reversal, which maximises the adversary's loss and can be met by a code that is confidently
    wrong (still identity), it is bounded and is least exactly where the code gives nothing away."""
    from torch.func import functional_call

    labels = identity_labels(code, count_a)
    logits = adversary(code.detach())
    adversary_loss = F.binary_cross_entropy_with_logits(logits, labels)
    fixed = {k: v.detach() for k, v in raw_adversary.named_parameters()}
    seen = functional_call(raw_adversary, fixed, (code,))
    confusion = F.binary_cross_entropy_with_logits(seen, torch.full_like(seen, 0.5)) - math.log(2)
    accuracy = float(((logits.detach() > 0).float() == labels).float().mean())
    logs = {"confusion": float(confusion.detach()), "adversary_loss": float(adversary_loss.detach())}
    return confusion, adversary_loss, {**logs, "adversary_accuracy": accuracy}


class FaceSwapTask(TrainTask):
    name = "faceswap"
    generative = True  # sample grids: [A | A→A | A→B] rows, then [B | B→B | B→A]
    export_net = "model"
    default_config = {
        # coverage: the encoder sees an ellipse around eyes and mouth this many inter-ocular
        # distances wide on each side (0: the whole crop); see autoencoder.coverage_window
        # input_norm: the encoder sees colour standardised per crop (see autoencoder.FaceSwapAE)
        "model": {"width": 32, "code": 64, "mask": False, "coverage": 0.0, "input_norm": False},
        "data": {"a": None, "b": None, "size": 64, "padding": 0.25},
        "augment": {"rotate": 10.0, "zoom": 0.05, "shift": 0.05, "warp": 0.02},
        # eye_multiplier, mouth_multiplier: faceswap's defaults (1 turns one off)
        "loss": {
            "ssim": 1.0,
            "mask": 1.0,
            "mask_weight": 3.0,
            "eye_multiplier": 3.0,
            "mouth_multiplier": 2.0,
            # code_adversary: weight of the code-identity confusion term (0: off; see train_step)
            "code_adversary": 0.0,
            # the classifier: mean (convolutions averaged over the code map) or flat (one hidden
            # layer on the flattened map), its width, its updates per step; the confusion's weight
            # ramps up from 0 over code_adversary_ramp steps (0: full weight from the start)
            "code_adversary_net": "mean",
            "code_adversary_width": 32,
            "code_adversary_steps": 1,
            "code_adversary_ramp": 0,
        },
        "train": {"batch_size": 16, "lr": 5e-5, "steps": 20000, "sample_every": 1000, "ckpt_every": 2000},
    }
    config_fields = {
        "data.a": Field("str", optional=True),
        "data.b": Field("str", optional=True),
        "data.size": Field("int", ge=8),
        "model.width": Field("int", ge=1),
        "model.code": Field("int", ge=1),
        "model.mask": Field("bool"),
        "model.coverage": Field("float", ge=0, le=4),
        "model.input_norm": Field("bool"),
        "data.padding": Field("float", ge=0, le=1),
        "loss.mask": Field("float", ge=0),
        "loss.mask_weight": Field("float", ge=1),
        "loss.eye_multiplier": Field("float", ge=1),
        "loss.mouth_multiplier": Field("float", ge=1),
        "loss.code_adversary": Field("float", ge=0),
        "loss.code_adversary_net": Field("str", choices=("mean", "flat")),
        "loss.code_adversary_width": Field("int", ge=1),
        "loss.code_adversary_steps": Field("int", ge=1),
        "loss.code_adversary_ramp": Field("int", ge=0),
        "augment.rotate": Field("float", ge=0, le=90),
        "augment.zoom": Field("float", ge=0, lt=1),
        "augment.shift": Field("float", ge=0, le=0.5),
        "augment.warp": Field("float", ge=0, le=0.2),
        "loss.ssim": Field("float", ge=0),
    }

    def __init__(self) -> None:
        self.dataset: TwoFaces | None = None
        self.identities: dict[str, str] = {}

    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        if int(cfg["data"]["size"]) % 8:
            raise UsageError(f"data.size {cfg['data']['size']}: the network needs a multiple of 8")
        m = cfg["model"]
        coverage = float(m.get("coverage", 0))
        window = coverage_window(coverage, float(cfg["data"].get("padding", 0.25))) if coverage else None
        net = FaceSwapAE(
            int(m["width"]),
            int(m["code"]),
            bool(m.get("mask", False)),
            window,
            bool(m.get("input_norm", False)),
        )
        lc = cfg["loss"]
        if float(lc.get("code_adversary", 0)):
            # flat: the code map is data.size / 8 on a side (the encoder's three stride-2 convolutions)
            cells = (int(cfg["data"]["size"]) // 8) ** 2 if lc.get("code_adversary_net") == "flat" else 0
            adversary = CodeAdversary(int(m["code"]), int(lc.get("code_adversary_width", 32)), cells)
            return {"model": net, "adversary": adversary}
        return {"model": net}

    def build_optimizers(self, nets, cfg):
        # faceswap's Adam: β = (0.5, 0.999); the code adversary, when there is one, gets its own
        lr = float(cfg["train"]["lr"])
        return {name: torch.optim.Adam(n.parameters(), lr=lr, betas=(0.5, 0.999)) for name, n in nets.items()}

    def build_dataset(self, data: Path | str | None, cfg: dict[str, Any]) -> TwoFaces:
        """Identity A is ``--data-a`` (``data.a``) or ``--data``, identity B ``--data-b`` (``data.b``)."""
        from genedit_core.sdk import resolve_data

        d = cfg["data"]
        a, b = d.get("a") if d.get("a") is not None else data, d.get("b")
        if a is None or b is None:
            raise UsageError(
                "faceswap trains on two identities: --data-a FACES_A --data-b FACES_B "
                "(folders of aligned crops, as 'genedit faceswap extract' writes them)"
            )
        size = int(d["size"])
        aug = {k: float(v) for k, v in cfg["augment"].items()}
        padding = float(d.get("padding", 0.25))
        masks = []
        if cfg["model"].get("mask"):
            from .convert import feather_mask

            # faceswap's learnt masks train toward a landmark-derived mask; here the face ellipse of
            # the template the crops were aligned to (data.padding: extract's --padding)
            masks.append((feather_mask(size, padding)[0] > 0.5).float())
        if _multiplied(cfg):
            masks.append(region_masks(size, padding))
        mask = torch.cat(masks) if masks else None
        self.dataset = TwoFaces(
            resolve_data(str(a), size=size), resolve_data(str(b), size=size), size, aug, mask
        )
        self.identities = {"a": str(a), "b": str(b)}
        return self.dataset

    def train_step(self, batch, ctx) -> dict[str, float]:
        lc = ctx.cfg["loss"]
        learnt = bool(ctx.cfg["model"].get("mask"))
        if len(batch) == 6:  # with masks: the learnt mask's target first, then the eye and mouth regions
            warped_a, a, masks_a, warped_b, b, masks_b = batch
        else:
            (warped_a, a, warped_b, b), masks_a, masks_b = batch, None, None
        net = ctx.nets["model"]
        adversarial = float(lc.get("code_adversary", 0)) > 0
        with ctx.autocast():
            outs = [o.float() for o in net(warped_a, b=warped_b, code=adversarial)]
        out_a, out_b = outs[:2]
        l1 = ssim = mask_loss = out_a.new_zeros(())
        eye, mouth = float(lc.get("eye_multiplier", 1)), float(lc.get("mouth_multiplier", 1))
        for out, target, masks in ((out_a, a, masks_a), (out_b, b, masks_b)):
            rgb = out[:, :3]
            face = masks[:, :1] if learnt else None
            regions = masks[:, 1:] if learnt else masks
            # faceswap's penalised mask loss (the face counts mask_weight times the rest) and its
            # eye and mouth multipliers, as one weight map for both terms
            weight = loss_weights(regions, eye, mouth, face, float(lc["mask_weight"]))
            if weight is None:
                l1 = l1 + F.l1_loss(rgb, target)
            else:
                l1 = l1 + ((rgb - target).abs() * weight).mean() / weight.mean()
            if face is not None:
                mask_loss = mask_loss + F.binary_cross_entropy(out[:, 3:].clamp(1e-6, 1 - 1e-6), face)
            ssim = ssim + ssim_loss(rgb, target, weight)
        loss = l1 + float(lc["ssim"]) * ssim + float(lc["mask"]) * mask_loss
        adversary_logs: dict[str, float] = {}
        if adversarial:
            self._catch_up(outs[2], len(a), ctx)
            confusion, adversary_loss, adversary_logs = code_adversary_terms(
                outs[2], len(a), ctx.nets["adversary"], ctx.raw_nets["adversary"]
            )
            weight = adversary_weight(
                float(lc["code_adversary"]), ctx.step, int(lc.get("code_adversary_ramp", 0))
            )
            adversary_logs["adversary_weight"] = weight
            loss = loss + weight * confusion
            ctx.backward(loss + adversary_loss)
            ctx.step_optimizer("adversary")
        else:
            ctx.backward(loss)
        ctx.step_optimizer("model")
        logs = {"l1": float(l1.detach()), "ssim_loss": float(ssim.detach()), "loss": float(loss.detach())}
        if learnt:
            logs["mask_loss"] = float(mask_loss.detach())
        return {**logs, **adversary_logs}

    @staticmethod
    def _catch_up(code: torch.Tensor, count_a: int, ctx) -> None:
        """``loss.code_adversary_steps`` − 1 updates of the adversary on this batch's code (detached)
        before the step's own: the encoder moves identity to wherever the classifier is not looking,
        and a classifier one update behind never becomes confident enough to push back (GAN
        practice's several critic updates per generator step). They are plain optimizer steps
        (without train.grad_clip), so the learning-rate schedule still advances once per training
        step; while gradients are being accumulated they only accumulate."""
        labels = identity_labels(code, count_a)
        opt = ctx.optimizers["adversary"]
        for _ in range(int(ctx.cfg["loss"].get("code_adversary_steps", 1)) - 1):
            ctx.backward(F.binary_cross_entropy_with_logits(ctx.nets["adversary"](code.detach()), labels))
            if not ctx.accumulating:
                opt.step()
                opt.zero_grad(set_to_none=True)

    def sample(self, nets, ctx) -> torch.Tensor | None:
        if self.dataset is None:
            return None
        ds, m = self.dataset, nets["model"]
        k = min(4, len(ds.a), len(ds.b))
        rows = []
        for items, own, other in ((ds.a, "a2a", "a2b"), (ds.b, "b2b", "b2a")):
            x = torch.stack([ds.face(items, i) for i in range(k)]).to(ctx.device)
            rows += [torch.cat(t, -1) for t in zip(x, m(x, own), m(x, other))]
        return torch.stack(rows).float().clamp(0, 1)

    def export_config(self, nets, cfg) -> dict[str, Any]:
        # size: the crop side convert aligns faces at, the one the decoders learnt to draw
        return {
            "model": self.name,
            "arch": nets["model"].hyperparameters(),
            "size": int(cfg["data"]["size"]),
            "identities": self.identities,
        }
