"""Tiled inference matches whole-image inference, moves one tile at a time, and survives OOM."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import genedit_core.tiling as tiling
from genedit_core.api import GeneditWarning
from genedit_core.cards import ModelCard
from genedit_core.model import LoadedModel
from genedit_core.tiling import MIN_TILE, run_model, run_tiled, run_with_oom_retry

CARD = ModelCard(
    name="tile-test", tasks=("upscale",), family="test", summary="tiling tests", needs_weights=False
)
GEN = torch.Generator().manual_seed(7)


class Recording(nn.Module):
    """Wraps a network and records the spatial size of every input it is given."""

    def __init__(self, net: nn.Module, oom_above: int | None = None):
        super().__init__()
        self.net = net
        self.oom_above = oom_above
        self.sizes: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        if self.oom_above is not None and x.shape[-2] * x.shape[-1] > self.oom_above:
            raise torch.OutOfMemoryError(f"pretend OOM on {tuple(x.shape)}")
        return self.net(x)


def conv_net(scale: int = 2) -> nn.Module:
    torch.manual_seed(3)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 3 * scale * scale, 3, padding=1),
        nn.PixelShuffle(scale),
        nn.Sigmoid(),
    )
    return net.eval()


class Bicubic(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False).clamp(0, 1)


def loaded(
    net: nn.Module, scale: int = 2, size_multiple: int = 1, receptive_field: int = 3, **kw
) -> tuple[LoadedModel, Recording]:
    """``receptive_field`` 3 is conv_net's reach (three 3×3 convs) and covers bicubic's 2."""
    rec = Recording(net, **kw)
    model = LoadedModel(
        card=CARD,
        module=rec,
        forward=rec,
        device=torch.device("cpu"),
        dtype=torch.float32,
        scale=scale,
        size_multiple=size_multiple,
        receptive_field=receptive_field,
    )
    return model, rec


@pytest.mark.parametrize("make", [Bicubic, conv_net], ids=["bicubic", "conv"])
@pytest.mark.parametrize("size_multiple", [1, 4])
def test_tiled_equals_whole(make, size_multiple):
    x = torch.rand(1, 3, 75, 98, generator=GEN)
    model, rec = loaded(make(), size_multiple=size_multiple)
    whole = run_tiled(model, x, None)
    rec.sizes.clear()

    tiled = run_tiled(model, x, tile=32, overlap=8)

    assert tiled.shape == whole.shape == (1, 3, 150, 196)
    assert (tiled - whole).abs().max().item() <= 1 / 255
    assert len(rec.sizes) == 3 * 4  # ceil(75/32) x ceil(98/32) tiles, one forward each


def test_each_forward_sees_one_tile_only():
    x = torch.rand(1, 3, 100, 130, generator=GEN)
    model, rec = loaded(conv_net())
    progress: list[tuple[int, int]] = []

    run_tiled(model, x, tile=40, overlap=6, progress=lambda d, t: progress.append((d, t)))

    assert (100, 130) not in rec.sizes
    assert max(h for h, _ in rec.sizes) <= 40 + 2 * 6 and max(w for _, w in rec.sizes) <= 40 + 2 * 6
    # 3 x 4 tiles; the total comes before the first tile, so a progress bar never reads 0/?
    assert progress == [(i, 12) for i in range(0, 13)]


def test_run_model_returns_cpu_tensors_and_leaves_input_alone():
    x = torch.rand(1, 3, 9, 11, generator=GEN)
    before = x.clone()
    model, _ = loaded(conv_net(), size_multiple=4)
    y = run_model(model, x)
    assert y.device.type == "cpu" and y.dtype == torch.float32 and y.shape == (1, 3, 18, 22)
    assert torch.equal(x, before)


def test_auto_tile_runs_whole_when_memory_is_plentiful(monkeypatch):
    monkeypatch.setattr(tiling, "_free_bytes", lambda device: 64 << 30)
    x = torch.rand(1, 3, 64, 80, generator=GEN)
    model, rec = loaded(conv_net())
    run_with_oom_retry(model, x, "auto")
    assert rec.sizes == [(64, 80)]


def test_auto_tile_tiles_when_memory_is_short(monkeypatch):
    monkeypatch.setattr(tiling, "_free_bytes", lambda device: 4 << 20)  # a 4 MiB budget
    x = torch.rand(1, 3, 96, 120, generator=GEN)
    model, rec = loaded(conv_net())
    whole = run_tiled(model, x, None)
    rec.sizes.clear()

    out = run_with_oom_retry(model, x, "auto", overlap=8)

    side = tiling.auto_tile(model, 96, 120)
    assert side is not None and MIN_TILE <= side < 96
    assert len(rec.sizes) > 1 and (96, 120) not in rec.sizes
    assert (out - whole).abs().max().item() <= 1 / 255


def test_oom_halves_the_tile_until_it_fits():
    x = torch.rand(1, 3, 120, 150, generator=GEN)
    reference, _ = loaded(conv_net())
    whole = run_tiled(reference, x, None)
    model, rec = loaded(conv_net(), oom_above=60 * 60)

    out = run_with_oom_retry(model, x, None, overlap=8)

    assert rec.sizes[0] == (120, 150)  # tried whole first
    ok = [s for s in rec.sizes if s[0] * s[1] <= 60 * 60]
    assert ok and len(ok) > 4
    assert (out - whole).abs().max().item() <= 1 / 255


def test_oom_at_the_smallest_tile_is_raised():
    x = torch.rand(1, 3, 70, 70, generator=GEN)
    model, _ = loaded(conv_net(), oom_above=10)
    with pytest.raises(torch.OutOfMemoryError), pytest.warns(GeneditWarning, match="is below") as seen:
        run_with_oom_retry(model, x, 64, overlap=4)  # smaller tiles, then less context, down to none
    assert [str(w.message).split(" is")[0] for w in seen] == [f"tile overlap {n}" for n in (2, 1, 0)]


def test_untileable_models_run_whole():
    x = torch.rand(1, 3, 50, 50, generator=GEN)
    model, rec = loaded(conv_net())
    model.tileable = False
    run_tiled(model, x, tile=32)
    assert rec.sizes == [(50, 50)]


# --- overlap from the receptive field, alignment, memory from the model's description ----------


def dilated_net(reach: int = 40) -> nn.Module:
    """x2 upscaler whose receptive field is exactly ``reach`` input pixels per side (3×3 convs
    dilated by 8 reach 8 each), further than the old fixed 32-pixel overlap."""
    torch.manual_seed(5)
    layers: list[nn.Module] = []
    for i in range(reach // 8):
        layers += [nn.Conv2d(3 if i == 0 else 6, 6, 3, padding=8, dilation=8), nn.Tanh()]
    layers += [nn.Conv2d(6, 12, 1), nn.PixelShuffle(2)]
    return nn.Sequential(*layers).eval()


def test_default_overlap_covers_the_receptive_field_so_tiles_are_seamless():
    x = torch.rand(1, 3, 100, 110, generator=GEN)
    model, _ = loaded(dilated_net(40))
    model.receptive_field = 40
    whole = run_tiled(model, x, None)

    assert tiling.default_overlap(model) == 40
    tiled = run_tiled(model, x, tile=32)  # default overlap
    assert (tiled - whole).abs().max().item() <= 1e-5

    with pytest.warns(GeneditWarning, match=r"tile overlap 32 is below the receptive field .* \(40 pixels\)"):
        short = run_tiled(model, x, tile=32, overlap=32)  # the old default: seams
    assert (short - whole).abs().max().item() > 1e-3


def test_overlap_and_tile_are_aligned_to_size_multiple():
    """Pixel-unshuffle models group s×s blocks: a tile that starts off that grid sees other blocks."""

    class Unshuffled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(2)
            self.conv = nn.Conv2d(3 * 16, 3 * 16 * 4, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return nn.functional.pixel_shuffle(self.conv(nn.functional.pixel_unshuffle(x, 4)), 8)

    x = torch.rand(1, 3, 96, 80, generator=GEN)
    model, _ = loaded(Unshuffled(), size_multiple=4)
    model.receptive_field = 5  # 1 unshuffled pixel of conv reach = 4 input pixels, +1 for the block
    whole = run_tiled(model, x, None)

    assert tiling.default_overlap(model) == 8
    tiled = run_tiled(model, x, tile=34)  # runs as 36: every tile starts on the 4-pixel grid
    assert (tiled - whole).abs().max().item() <= 1e-5


def test_auto_tile_reads_the_models_stated_bytes_per_pixel(monkeypatch):
    monkeypatch.setattr(tiling, "_free_bytes", lambda device: 256 << 20)  # a 64 MiB budget
    model, _ = loaded(conv_net(), scale=2)
    model.receptive_field = 0
    model.hyperparameters = {"num_feat": 4096}  # an architecture detail the tiler must not read
    model.activation_bytes_per_pixel = 1000.0
    assert tiling.auto_tile(model, 1000, 1000) == 224  # sqrt(64 MiB / 1064 B) = 251, a multiple of 32
    model.activation_bytes_per_pixel = 16000.0
    assert tiling.auto_tile(model, 1000, 1000) == 64  # sqrt(64 MiB / 16064 B) = 64.6
    model.activation_bytes_per_pixel = 1000.0
    model.receptive_field = 80  # each piece also carries 2 × 80 pixels of context: 251 - 160
    assert tiling.auto_tile(model, 1000, 1000) == 64
    assert tiling.auto_tile(model, 200, 200) is None  # the whole image fits
    model.receptive_field, model.dtype = 0, torch.bfloat16  # 2-byte activations: half the bytes
    assert tiling.bytes_per_pixel(model) == 1000.0 / 2 + 64


def test_oom_at_the_smallest_tile_gives_up_context_with_a_warning():
    x = torch.rand(1, 3, 90, 90, generator=GEN)
    model, rec = loaded(conv_net(), oom_above=56 * 56)
    model.receptive_field = 12  # pieces of 32 + 2 × 12 = 56 fit; the first tries do not

    with pytest.warns(GeneditWarning, match=r"tile overlap 8 is below .* \(12 pixels\)"):
        out = run_with_oom_retry(model, x, 64, overlap=16)  # 64 + 32, then 32 + 32: too big

    assert out.shape == (1, 3, 180, 180)
    assert len(rec.sizes) > 9 and max(h * w for h, w in rec.sizes[-9:]) <= 48 * 48  # 32 + 2 × 8
