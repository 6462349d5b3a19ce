"""CycleGAN training for the shared trainer (Zhu et al. 2017, as junyanz's repository trains it).

One step, for a batch of unpaired images (A, B):

1. **Generators** (discriminators frozen): LSGAN loss of each fake against "real" (1), cycle loss
   ``loss.cycle`` (λ = 10) · L1(G_BA(G_AB(a)), a) and the same for b, and identity loss
   ``loss.identity`` (0.5) · λ · L1(G_AB(b), b) and L1(G_BA(a), a). The identity term keeps
   colours where they are: without it CycleGAN is free to invert them (junyanz #91, #744).
2. **Discriminators**: ½ · (LSGAN(D(real), 1) + LSGAN(D(fake), 0)) per domain, the fakes drawn
   from a pool of the last ``loss.pool`` (50) generated images (Shrivastava et al. 2017), which
   damps the oscillation of D against the newest G.

Adam at ``train.lr`` (2e-4) with β = (0.5, 0.999) for both pairs, constant for the first half and
decaying linearly to zero over the second (``train.schedule.type: linear``; junyanz's 100 + 100
epochs). Every random draw (B partners, crops, flips, the pool's choices) comes from the trainer's
seeded generators and the pool is a network of buffers saved with each checkpoint, so a resumed
run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from genedit_core.sdk import Field, TrainTask, UsageError

from ._arch.networks import (
    DiscriminatorPair,
    GeneratorPair,
    NLayerDiscriminator,
    ResnetGenerator,
    init_normal,
)


class UnpairedImages:
    """Two image sets with no correspondence: item i is A[i mod |A|] and a B image drawn at random.

    As in junyanz's unaligned dataset, an epoch is max(|A|, |B|) items and B's partner is drawn
    anew each time, so no fixed pairing is ever learnt. Each image is resized so its shorter side
    is ``load_size`` (0: kept as it is; the aspect ratio is kept, where junyanz squashes to a
    square), randomly cropped to ``crop``², randomly flipped, and scaled to [-1, 1].
    """

    def __init__(self, a: Any, b: Any, crop: int, load_size: int = 0, nc: int = 3, hflip: bool = True):
        self.a, self.b = a, b
        self.crop, self.load_size, self.nc, self.hflip = crop, load_size, nc, hflip

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def get(self, index: int, gen: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The pair at ``index``; ``gen`` None gives the unaugmented centre crop of B[index]."""
        ia = index % len(self.a)
        ib = index % len(self.b) if gen is None else int(torch.randint(len(self.b), (1,), generator=gen))
        return self.prepare(self.a[ia], gen), self.prepare(self.b[ib], gen)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get(index, torch.Generator().manual_seed(index))

    def prepare(self, item: Any, gen: torch.Generator | None) -> torch.Tensor:
        img = item[0] if isinstance(item, tuple) else item
        img = _channels(img.float(), self.nc)
        h, w = img.shape[-2:]
        if self.load_size and min(h, w) != self.load_size:
            k = self.load_size / min(h, w)
            size = (max(self.load_size, round(h * k)), max(self.load_size, round(w * k)))
            img = F.interpolate(img[None], size=size, mode="bicubic", antialias=True, align_corners=False)[0]
            h, w = size
        if min(h, w) < self.crop:
            k = self.crop / min(h, w)
            size = (max(self.crop, math.ceil(h * k)), max(self.crop, math.ceil(w * k)))
            img = F.interpolate(img[None], size=size, mode="bicubic", align_corners=False)[0]
            h, w = size
        if gen is None:
            top, left = (h - self.crop) // 2, (w - self.crop) // 2
        else:
            top = int(torch.randint(h - self.crop + 1, (1,), generator=gen))
            left = int(torch.randint(w - self.crop + 1, (1,), generator=gen))
        img = img[:, top : top + self.crop, left : left + self.crop]
        if gen is not None and self.hflip and int(torch.randint(2, (1,), generator=gen)):
            img = img.flip(-1)
        return (img.clamp(0, 1) * 2 - 1).contiguous()


def _channels(img: torch.Tensor, nc: int) -> torch.Tensor:
    c = img.shape[0]
    if c == nc:
        return img
    if nc == 1:
        return img[:3].mean(0, keepdim=True)
    return img[:1].expand(nc, *img.shape[1:]) if c == 1 else img[:nc]


class ImagePool(nn.Module):
    """The last ``size`` fakes of each domain, as buffers (so they are checkpointed and resumed).

    Once full, each new fake is returned as it is with probability ½; otherwise it replaces a
    random stored fake, which is returned instead.
    """

    def __init__(self, size: int, nc: int, crop: int):
        super().__init__()
        self.size = size
        n = max(size, 0)
        self.register_buffer("a", torch.zeros(n, nc, crop, crop))
        self.register_buffer("b", torch.zeros(n, nc, crop, crop))
        self.register_buffer("count", torch.zeros(2, dtype=torch.long))

    @torch.no_grad()
    def query(self, domain: str, images: torch.Tensor, ctx: Any) -> torch.Tensor:
        if self.size <= 0:
            return images
        store, k = (self.a, 0) if domain == "a" else (self.b, 1)
        out = []
        for img in images:
            n = int(self.count[k])
            if n < self.size:
                store[n] = img
                self.count[k] += 1
                out.append(img)
            elif float(ctx.rand(1)) > 0.5:
                j = int(ctx.randint(self.size, (1,)))
                out.append(store[j].clone())
                store[j] = img
            else:
                out.append(img)
        return torch.stack(out)


def _lsgan(pred: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(pred.float(), torch.full_like(pred.float(), target))


class CycleGANTask(TrainTask):
    name = "cyclegan"
    generative = True  # sample grids: A→B→A and B→A→B of fixed images
    export_net = "g"  # both generators: a2b.model.* and b2a.model.*
    default_config = {
        "model": {"ngf": 64, "ndf": 64, "n_blocks": 9, "n_layers_d": 3, "nc": 3, "dropout": False},
        "data": {"a": None, "b": None, "load_size": 286, "crop": 256, "hflip": True},
        "loss": {"cycle": 10.0, "identity": 0.5, "pool": 50, "warn_after": 500},
        "optim": {"betas": [0.5, 0.999]},
        "train": {
            "batch_size": 1,
            "lr": 2e-4,
            "steps": 200000,
            "schedule": {"type": "linear"},
            "sample_every": 5000,  # a grid with each checkpoint
            "ckpt_every": 5000,
            "log_every": 100,
        },
    }
    config_fields = {
        "data.a": Field("str", optional=True),
        "data.b": Field("str", optional=True),
        "data.crop": Field("int", ge=8),
        "data.load_size": Field("int", ge=0),
        "model.ngf": Field("int", ge=1),
        "model.ndf": Field("int", ge=1),
        "model.n_blocks": Field("int", ge=0),
        "model.n_layers_d": Field("int", ge=1, le=6),
        "model.nc": Field("int", choices=(1, 3)),
        "loss.cycle": Field("float", ge=0),
        "loss.identity": Field("float", ge=0),
        "loss.pool": Field("int", ge=0),
        "loss.warn_after": Field("int", ge=0),
    }

    def __init__(self) -> None:
        self.dataset: UnpairedImages | None = None
        self.domains: dict[str, str] = {}

    # -- networks ---------------------------------------------------------------------------------
    def build_networks(self, cfg: dict[str, Any]) -> dict[str, nn.Module]:
        m, d = cfg["model"], cfg["data"]
        if int(d["crop"]) % 4:
            raise UsageError(f"data.crop {d['crop']}: the generator needs a multiple of 4")
        n_layers = int(m["n_layers_d"])
        if int(d["crop"]) // 2**n_layers < 3:  # the last instance norm needs more than one pixel
            raise UsageError(
                f"data.crop {d['crop']} is too small for a {n_layers}-layer PatchGAN: use at least "
                f"{3 * 2**n_layers}, or fewer model.n_layers_d"
            )
        nc = int(m["nc"])

        def gen() -> ResnetGenerator:
            return ResnetGenerator(nc, nc, int(m["ngf"]), int(m["n_blocks"]), bool(m["dropout"]))

        def disc() -> NLayerDiscriminator:
            return NLayerDiscriminator(nc, int(m["ndf"]), int(m["n_layers_d"]))

        g, dd = GeneratorPair(gen(), gen()), DiscriminatorPair(disc(), disc())
        init_normal(g)
        init_normal(dd)
        return {"g": g, "d": dd, "pool": ImagePool(int(cfg["loss"]["pool"]), nc, int(d["crop"]))}

    def build_optimizers(self, nets, cfg):
        betas = tuple(float(b) for b in cfg["optim"]["betas"])
        lr = float(cfg["train"]["lr"])
        return {
            "g": torch.optim.Adam(nets["g"].parameters(), lr=lr, betas=betas),
            "d": torch.optim.Adam(nets["d"].parameters(), lr=lr, betas=betas),
        }

    # -- data -------------------------------------------------------------------------------------
    def build_dataset(self, data: Path | str | None, cfg: dict[str, Any]) -> UnpairedImages:
        """Domain A is ``--data-a`` (``data.a``) or ``--data``, domain B ``--data-b`` (``data.b``); ``--data ROOT`` alone takes
        ROOT/trainA and ROOT/trainB, the layout of the CycleGAN datasets (horse2zebra, ...).
        Either domain may be a folder or a ``builtin:`` set."""
        from genedit_core.sdk import resolve_data

        d, nc = cfg["data"], int(cfg["model"]["nc"])
        a, b = d.get("a"), d.get("b")
        if a is not None and data is not None:
            raise UsageError("cyclegan: domain A is --data or --data-a (data.a), not both")
        a = a if a is not None else data
        if b is None and a is not None and not str(a).startswith("builtin:"):
            root = Path(str(a))
            if (root / "trainA").is_dir() and (root / "trainB").is_dir():
                a, b = root / "trainA", root / "trainB"
        if a is None or b is None:
            raise UsageError(
                "cyclegan trains on two unpaired domains: --data-a FOLDER_A --data-b FOLDER_B, or "
                "--data ROOT with ROOT/trainA and ROOT/trainB (the CycleGAN datasets' layout)"
            )
        crop = int(d["crop"])
        self.dataset = UnpairedImages(
            resolve_data(str(a), size=crop, channels=nc),
            resolve_data(str(b), size=crop, channels=nc),
            crop,
            int(d["load_size"]),
            nc,
            bool(d["hflip"]),
        )
        self.domains = {"a": str(a), "b": str(b)}
        return self.dataset

    # -- one step ---------------------------------------------------------------------------------
    def train_step(self, batch, ctx) -> dict[str, float]:
        real_a, real_b = batch
        g, d = ctx.nets["g"], ctx.nets["d"]
        raw_d, pool = ctx.raw_nets["d"], ctx.raw_nets["pool"]
        lc = ctx.cfg["loss"]
        lam, idt = float(lc["cycle"]), float(lc["identity"])

        raw_d.requires_grad_(False)
        with ctx.autocast():
            fake_b = g(real_a, "a2b")
            fake_a = g(real_b, "b2a")
            cycle = (F.l1_loss(g(fake_b, "b2a"), real_a) + F.l1_loss(g(fake_a, "a2b"), real_b)) * lam
            identity = torch.zeros((), device=real_a.device)
            if idt > 0:
                identity = (
                    (F.l1_loss(g(real_b, "a2b"), real_b) + F.l1_loss(g(real_a, "b2a"), real_a)) * lam * idt
                )
            adv = _lsgan(d(fake_b, "b"), 1.0) + _lsgan(d(fake_a, "a"), 1.0)
            g_loss = adv + cycle + identity
        ctx.backward(g_loss)
        ctx.step_optimizer("g")
        raw_d.requires_grad_(True)

        old_b = pool.query("b", fake_b.detach(), ctx)
        old_a = pool.query("a", fake_a.detach(), ctx)
        with ctx.autocast():
            d_real_b, d_real_a = d(real_b, "b"), d(real_a, "a")
            d_b = 0.5 * (_lsgan(d_real_b, 1.0) + _lsgan(d(old_b, "b"), 0.0))
            d_a = 0.5 * (_lsgan(d_real_a, 1.0) + _lsgan(d(old_a, "a"), 0.0))
        ctx.backward(d_a + d_b)
        ctx.step_optimizer("d")
        return {
            "g_adv": float(adv.detach()),
            "cycle": float(cycle.detach()),
            "identity": float(identity.detach()),
            "d_a": float(d_a.detach()),
            "d_b": float(d_b.detach()),
            "d_real": float((d_real_a.detach().float().mean() + d_real_b.detach().float().mean()) / 2),
        }

    # -- samples, export, warnings ----------------------------------------------------------------
    def sample(self, nets, ctx) -> torch.Tensor | None:
        """Fixed images as [real | translated | back] strips: the first half of the grid's rows
        A→B→A, the second half B→A→B (centre crops of the first images of each domain)."""
        if self.dataset is None:
            return None
        ds = self.dataset
        k = 2 if ds.crop > 128 else 8
        k = min(k, len(ds.a), len(ds.b))
        k = k if k in (1, 2, 3, 8) else min(k, 3)
        a = torch.stack([ds.prepare(ds.a[i], None) for i in range(k)]).to(ctx.device)
        b = torch.stack([ds.prepare(ds.b[i], None) for i in range(k)]).to(ctx.device)
        g = nets["g"]
        fb, fa = g(a, "a2b"), g(b, "b2a")
        strips = [torch.cat(t, dim=-1) for t in zip(a, fb, g(fb, "b2a"))]
        strips += [torch.cat(t, dim=-1) for t in zip(b, fa, g(fa, "a2b"))]
        return ((torch.stack(strips).float() + 1) / 2).clamp(0, 1)

    def export_config(self, nets, cfg) -> dict[str, Any]:
        return {"model": self.name, "arch": nets["g"].a2b.hyperparameters(), "domains": self.domains}

    def check(self, metrics: dict[str, float], ctx) -> list[str]:
        for k, v in metrics.items():
            if not math.isfinite(float(v)):
                return [f"{k} is {v}: training diverged; lower train.lr or resume from a checkpoint"]
        warn_after = int((ctx.cfg.get("loss") or {}).get("warn_after", 500)) if ctx is not None else 500
        if ctx is not None and ctx.step + 1 < warn_after:
            return []
        out = []
        for dom in ("a", "b"):
            v = metrics.get(f"d_{dom}")
            if v is not None and v < 1e-3:
                out.append(
                    f"discriminator {dom.upper()} loss collapsed to ~0 ({v:.2g}): its generator gets no "
                    "useful gradient. Add data, lower train.lr, or restart from an earlier checkpoint."
                )
        return out
