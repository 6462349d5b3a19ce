"""The tasks: reconstruct, interpolate, traverse, generate, sketch, sketch2image.

Inputs arrive as 1×3×H×W in 0–1 on the CPU. A VAE works at one resolution, so inputs are centre-
cropped to a square and resized to the model's size (area filter); outputs come back at that size.
Everything deterministic uses the posterior mean and the decoder mean, so a reconstruction is a
function of the image alone, and sampled outputs take their noise from ``torch.Generator(seed)``
on the CPU, so the same seed gives the same image on the same device.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from genedit_core.sdk import UsageError, get_bool, get_float, get_int, make_grid, parse_index_ranges

from .sketch import extract_sketch, to_grey


# -- parameter parsing ------------------------------------------------------------------------------
def param_int(params: dict[str, Any], key: str, default: int, lo: int = 1, hi: int = 10_000) -> int:
    return get_int(params, key, default, lo, hi)


def param_float(params: dict[str, Any], key: str, default: float, lo: float = -1e9, hi: float = 1e9) -> float:
    return get_float(params, key, default, lo, hi)


def param_bool(params: dict[str, Any], key: str, default: bool = False) -> bool:
    return get_bool(params, key, default)


def parse_dims(spec: str, latent_dim: int) -> list[int]:
    """``0-9``, ``0,3,5`` or ``all`` -> dimension indices, checked against the latent size."""
    if spec.strip().lower() == "all":
        return list(range(latent_dim))
    dims = parse_index_ranges(spec, "dims")
    bad = [d for d in dims if not 0 <= d < latent_dim]
    if bad:
        raise UsageError(f"--dims {spec}: the latent has dimensions 0–{latent_dim - 1}")
    return dims


# -- tensors in and out -----------------------------------------------------------------------------
def _square(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top : top + s, left : left + s]


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre-crop to a square and resize to size×size (area when shrinking, bilinear otherwise)."""
    x = _square(x)
    if x.shape[-1] == size:
        return x
    if x.shape[-1] > size:
        return F.interpolate(x, size=(size, size), mode="area")
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1)


def _ref(module) -> torch.Tensor:
    return module.mu.weight


def prepare(module, x: torch.Tensor) -> torch.Tensor:
    """An input image as the model sees it: square, model size, model channels, model device."""
    c = module.config
    x = resize(x.float(), c.image_size)
    if c.in_channels == 1 and x.shape[1] != 1:
        x = to_grey(x)
    elif c.in_channels == 3 and x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    ref = _ref(module)
    return x.to(device=ref.device, dtype=ref.dtype)


@torch.no_grad()
def reconstruct(module, x: torch.Tensor, sketch: torch.Tensor | None = None) -> torch.Tensor:
    mu, _ = module.encode(x, sketch)
    return module.decode(mu, sketch)


@torch.no_grad()
def interpolate(module, a: torch.Tensor, b: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """Decode ``steps`` points on the segment between the posterior means of ``a`` and ``b``; the
    two ends are the reconstructions of ``a`` and ``b``."""
    za, _ = module.encode(a)
    zb, _ = module.encode(b)
    ts = torch.linspace(0, 1, steps, device=za.device, dtype=za.dtype)
    z = torch.cat([za + t * (zb - za) for t in ts])
    frames = module.decode(z)
    return [frames[i : i + 1] for i in range(steps)]


@torch.no_grad()
def traverse(module, x: torch.Tensor, dims: list[int], radius: float, steps: int) -> torch.Tensor:
    """One row per dimension: the image's posterior mean with that dimension set to each of
    ``steps`` values in [−radius, radius] (the others fixed), decoded and tiled into one 1×C×H'×W'
    CPU image with white gutters."""
    mu, _ = module.encode(x)
    values = torch.linspace(-radius, radius, steps, device=mu.device, dtype=mu.dtype)
    z = mu.repeat(len(dims) * steps, 1)
    for r, d in enumerate(dims):
        z[r * steps : (r + 1) * steps, d] = values
    return torch.from_numpy(make_grid(module.decode(z), cols=steps)).permute(2, 0, 1)[None].contiguous()


def seed_noise(seed: int, dim: int) -> torch.Tensor:
    return torch.randn(dim, generator=torch.Generator().manual_seed(int(seed)))


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation: stays at the typical radius of a Gaussian, unlike a straight line."""
    cos = (a @ b / (a.norm() * b.norm()).clamp_min(1e-8)).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-4:
        return a + t * (b - a)
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def sample(module, seeds: list[int], truncation: float | None = None) -> torch.Tensor:
    z = torch.stack([seed_noise(s, module.config.latent_dim) for s in seeds])
    if truncation is not None:
        z = z * truncation
    ref = _ref(module)
    return module.decode(z.to(device=ref.device, dtype=ref.dtype))


def model_sketch(module, photo: torch.Tensor, method: str) -> torch.Tensor:
    """The sketch the SVAE would be given for ``photo``: extracted at the model's resolution."""
    x = resize(photo.float(), module.config.image_size)
    ref = _ref(module)
    return extract_sketch(x, method).to(device=ref.device, dtype=ref.dtype)


def user_sketch(module, drawing: torch.Tensor) -> torch.Tensor:
    """A hand-drawn sketch (dark lines on white) at the model's resolution. Shrinking takes the
    darkest pixel of each cell, so thin pen lines survive instead of fading to grey."""
    s = _square(to_grey(drawing.float()))
    size = module.config.image_size
    if s.shape[-1] > size:
        s = 1.0 - F.adaptive_max_pool2d(1.0 - s, size)
    elif s.shape[-1] < size:
        s = F.interpolate(s, size=(size, size), mode="bilinear", align_corners=False)
    ref = _ref(module)
    return s.clamp(0, 1).to(device=ref.device, dtype=ref.dtype)


@torch.no_grad()
def sketch_to_images(module, sketch: torch.Tensor, seeds: list[int], use_mean: bool = False) -> torch.Tensor:
    """One image per seed for one sketch (1×1×S×S): z ~ p(z|s) with the seed's noise, or the prior
    mean when ``use_mean`` (the deterministic baseline)."""
    p_mu, p_logvar = module.prior(sketch)
    if use_mean:
        z = p_mu.expand(len(seeds), -1)
    else:
        eps = torch.stack([seed_noise(s, module.config.latent_dim) for s in seeds]).to(p_mu)
        z = p_mu + eps * (0.5 * p_logvar).exp()
    return module.decode(z, sketch.expand(len(seeds), -1, -1, -1))


# -- hook bodies ------------------------------------------------------------------------------------
def run_edit(request) -> Any:
    model = request.model
    module = model.module
    params = request.params
    task = request.task
    if task == "interpolate":
        images = getattr(request, "images", None) or ([request.image] if request.image is not None else [])
        if len(images) != 2:
            raise UsageError(f"interpolate takes exactly two images (A.png B.png), got {len(images)}")
        steps = param_int(params, "steps", 8, lo=2, hi=256)
        return interpolate(module, prepare(module, images[0]), prepare(module, images[1]), steps)
    x = request.image
    if task == "reconstruct":
        return reconstruct(module, prepare(module, x))
    if task == "traverse":
        dims = parse_dims(str(params.get("dims", "all")), module.config.latent_dim)
        radius = param_float(params, "range", 3.0, lo=0.0, hi=100.0)
        steps = param_int(params, "steps", 7, lo=2, hi=64)
        return traverse(module, prepare(module, x), dims, radius, steps)
    method = model.hyperparameters.get("sketch_method", "xdog")
    if task == "sketch":
        return model_sketch(module, x, str(params.get("method", method)))
    if task == "sketch2image":
        n = param_int(params, "samples", 1, lo=1, hi=256)
        seed = param_int(params, "seed", 0, lo=0, hi=2**31 - 1)
        if param_bool(params, "from_photo"):
            sketch = model_sketch(module, x, method)
        else:
            sketch = user_sketch(module, x)
        out = sketch_to_images(
            module, sketch, list(range(seed, seed + n)), use_mean=param_bool(params, "mean")
        )
        return [out[i : i + 1] for i in range(n)] if n > 1 else out
    raise UsageError(f"{model.name} does not do '{task}'")


def run_generate(request) -> Any:
    card, model = request.card, request.model
    if "generate" not in card.tasks:
        raise UsageError(
            f"{card.name} needs a sketch to generate from: use 'genedit run sketch2image --model {card.name} SKETCH.png'"
        )
    params = request.params  # checked against the card's options by genedit before the model loaded
    module = model.module
    truncation = params.get("truncation")
    interp = params.get("interpolate")
    if interp:
        steps = int(params.get("steps") or 8)
        a, b = (seed_noise(s, module.config.latent_dim) for s in interp)
        z = torch.stack([slerp(a, b, t) for t in torch.linspace(0, 1, steps).tolist()])
        if truncation is not None:
            z = z * float(truncation)
        ref = _ref(module)
        with torch.no_grad():
            return module.decode(z.to(device=ref.device, dtype=ref.dtype))
    return sample(module, list(request.seeds), None if truncation is None else float(truncation))
