"""A toy plugin for the serve tests (a unique module name: other plugins' test modules never shadow it).

``toy-up`` is a nearest-neighbour x2 upscaler whose declared ``gain`` option multiplies the result,
so a test can tell from the pixels that an option reached the plugin. ``toy-gen`` generates flat
images of the declared ``shade``, one per seed. ``toy-fill`` blacks out the hole of its declared image option ``mask``. ``toy-slow`` sleeps in its edit hook until a test
releases it, so queue and cancel behaviour can be checked without timing races. No weights.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from typing import Any

from genedit_core.sdk import ModelCard, Option, get_float, hookimpl

GAIN = Option("gain", float, 1.0, "multiply the output", low=0.0, high=2.0)
MODE = Option("mode", str, "nearest", "how to upscale", choices=("nearest", "flat"))
LABEL = Option("label", str, None, "free text the plugin ignores")
MASK = Option("mask", str, None, "mask image, white = hole", image=True)
SHADE = Option("shade", float, 0.5, "grey level of the generated image", low=0.0, high=1.0)

TOY_UP = ModelCard(
    name="toy-up",
    tasks=("upscale",),
    family="test",
    summary="Nearest-neighbour x2 for tests.",
    scales=(2,),
    default_scale=2,
    needs_weights=False,
    licence="Apache-2.0",
    options={"upscale": (GAIN, MODE, LABEL)},
)
TOY_GEN = ModelCard(
    name="toy-gen",
    tasks=("generate",),
    family="test",
    summary="Flat grey 8×8 images for tests.",
    needs_weights=False,
    licence="Apache-2.0",
    options={"generate": (SHADE,)},
)
TOY_FILL = ModelCard(
    name="toy-fill",
    tasks=("inpaint",),
    family="test",
    summary="Paints the mask's hole black.",
    needs_weights=False,
    licence="Apache-2.0",
    options={"inpaint": (MASK,)},
)
TOY_SLOW = ModelCard(
    name="toy-slow",
    tasks=("denoise",),
    family="test",
    summary="Identity that waits for a test to release it.",
    needs_weights=False,
    licence="Apache-2.0",
)


class ToyPlugin:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.loads = 0

    @hookimpl
    def register_models(self, register):
        for card in (TOY_UP, TOY_GEN, TOY_FILL, TOY_SLOW):
            register(card)

    @hookimpl
    def load_model(self, request):
        import torch

        from genedit_core.sdk import LoadedModel

        self.loads += 1
        up = torch.nn.Upsample(scale_factor=2, mode="nearest")
        scale = 2 if request.card.name == "toy-up" else 1
        forward = up if scale == 2 else (lambda x: x)
        return LoadedModel(
            card=request.card,
            module=None,
            forward=forward,
            device=request.device,
            dtype=torch.float32,
            scale=scale,
            latent_shape=(4,) if request.card.name == "toy-gen" else None,
        )

    @hookimpl
    def edit(self, request):
        if request.card.name == "toy-slow":
            self.entered.set()
            self.release.wait(timeout=20)
            return request.image
        if request.card.name == "toy-fill":
            import torch

            from genedit_core.sdk import read_image

            hole = read_image(request.params["mask"]).pixels[..., 0] > 0.5
            return request.image * torch.from_numpy(~hole).to(request.image)
        y = request.tiler(request.model, request.image)
        if request.params.get("mode") == "flat":
            y = y * 0 + y.mean()
        return (y * get_float(request.params, "gain", 1.0)).clamp(0, 1)

    @hookimpl
    def generate(self, request):
        import torch

        shade = get_float(request.params, "shade", 0.5)
        return torch.full((len(request.seeds), 3, 8, 8), shade)


# -- helpers of the tests --------------------------------------------------------------------------


def png_bytes(width: int = 8, height: int = 6, value: int = 200) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (value, value // 2, 10)).save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header claiming ``width``×``height`` pixels with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def wait_done(client: Any, job_id: str, timeout: float = 20.0, **kw: Any) -> dict[str, Any]:
    """Poll ``GET /jobs/{id}`` until the job is finished; fail the test after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job = client.get(f"/jobs/{job_id}", **kw).json()
        if job["finished"]:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {job}")
