"""The numpy tiler of the warm path equals the torch tiler, and the card states what may run warm.

``genedit_core.tiling.run_tiled_array`` runs a cached program without torch; for its output to be
the normal path's, it must cut the same tiles with the same context, pad the same way, round the
input to the model's dtype as ``tensor.to(dtype)`` does, and report the same progress.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import genedit_core.tiling as tiling
from genedit_core.cards import ModelCard
from genedit_core.model import LoadedModel
from genedit_core.options import Option
from genedit_core.sdk import hookimpl
from genedit_core.tiling import round_to_dtype, run_tiled_array, run_with_oom_retry
from genedit_core.warm import WarmDtype, read_index, record

CARD = ModelCard(
    name="arr", tasks=("upscale",), family="test", summary="numpy tiler tests", needs_weights=False
)


def torch_forward(sizes: list):
    def forward(x: torch.Tensor) -> torch.Tensor:
        sizes.append(tuple(x.shape[-2:]))
        x = x.float()  # as a converting backend does: its program computes in float32
        right = torch.nn.functional.pad(x, (0, 1, 0, 0), mode="replicate")[..., :, 1:]
        y = x * 0.5 + right * 0.25
        return y.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)

    return forward


def numpy_forward(sizes: list):
    def forward(x: np.ndarray) -> np.ndarray:
        sizes.append(tuple(x.shape[-2:]))
        right = np.pad(x, ((0, 0), (0, 0), (0, 0), (0, 1)), mode="edge")[..., :, 1:]
        y = x * np.float32(0.5) + right * np.float32(0.25)
        return y.repeat(2, axis=-2).repeat(2, axis=-1)

    return forward


@dataclasses.dataclass
class ArrayModel:
    forward: object
    dtype: WarmDtype
    scale: int = 2
    size_multiple: int = 1
    receptive_field: int = 1
    tileable: bool = True
    activation_bytes_per_pixel: float | None = None
    device: str = "cpu"
    card: ModelCard = CARD
    weights: object = None

    @property
    def name(self) -> str:
        return self.card.name


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("size_multiple", [1, 4])
@pytest.mark.parametrize("tile", [None, 16, "auto"])
def test_the_numpy_tiler_equals_the_torch_tiler(dtype, size_multiple, tile, monkeypatch):
    monkeypatch.setattr(tiling, "_free_bytes", lambda device: 4 * 40 * 40 * 900)  # auto: tiles
    x = np.random.default_rng(3).random((1, 3, 45, 38), dtype=np.float32)
    seen_t: list = []
    seen_n: list = []
    progress_t: list = []
    progress_n: list = []
    ref = LoadedModel(
        card=CARD,
        module=None,
        forward=torch_forward(seen_t),
        device=torch.device("cpu"),
        dtype=torch.bfloat16 if dtype == "bf16" else torch.float32,
        scale=2,
        size_multiple=size_multiple,
        receptive_field=1,
    )
    ref.card = dataclasses.replace(CARD, channels_last=False)
    arr = ArrayModel(numpy_forward(seen_n), WarmDtype(dtype), size_multiple=size_multiple)
    want = run_with_oom_retry(ref, torch.from_numpy(x.copy()), tile, progress=lambda *a: progress_t.append(a))
    got = run_tiled_array(arr, x, tile, progress=lambda *a: progress_n.append(a))
    assert got.dtype == np.float32 and got.shape == (1, 3, 90, 76)
    assert np.array_equal(got, want.numpy())  # bit for bit
    assert seen_n == seen_t and progress_n == progress_t
    assert (len(seen_n) > 1) == (tile is not None)  # the tiled cases did tile
    if size_multiple == 4:
        assert all(h % 4 == 0 and w % 4 == 0 for h, w in seen_n)


def test_bf16_rounding_is_torchs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(20000).astype(np.float32)
    ties = (x.view(np.uint32) & np.uint32(0xFFFF0000)) | np.uint32(0x8000)  # exactly half way
    x = np.concatenate([x, ties.view(np.float32), np.array([0.0, 1.0, 1e-40, -0.0], np.float32)])
    want = torch.from_numpy(x).to(torch.bfloat16).float().numpy()
    assert np.array_equal(round_to_dtype(x, "bf16").view(np.uint32), want.view(np.uint32))
    assert round_to_dtype(x, "fp32") is x


def test_a_non_finite_output_is_refused_with_the_models_name():
    from genedit_core.errors import NonFiniteOutputError

    bad = ArrayModel(lambda x: np.full((1, 3, 8, 8), np.nan, np.float32), WarmDtype("fp32"))
    with pytest.raises(NonFiniteOutputError, match="model 'arr' x2 .* 192 NaN or infinite"):
        run_tiled_array(bad, np.zeros((1, 3, 4, 4), np.float32), None)


def test_tiled_forward_must_name_a_plain_task_with_a_range():
    def card(**kw):
        return ModelCard(name="c", tasks=("upscale", "mix"), family="t", summary="s", **kw)

    assert card(tiled_forward={"upscale": (0.0, 1.0)}).to_dict()["tiled_forward"] == {"upscale": [0.0, 1.0]}
    with pytest.raises(ValueError, match="tiled_forward"):
        card(tiled_forward={"denoise": (0.0, 1.0)})
    with pytest.raises(ValueError, match="group task or take options"):
        card(tiled_forward={"mix": (0.0, 1.0)}, group_tasks=("mix",))
    with pytest.raises(ValueError, match="group task or take options"):
        card(tiled_forward={"upscale": (0.0, 1.0)}, options={"upscale": (Option("n", int, 1, "n"),)})
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        card(tiled_forward={"upscale": (1.0, 0.0)})


def test_a_torch_run_is_not_recorded_and_a_corrupt_index_reads_empty(tmp_path):
    model = LoadedModel(
        card=dataclasses.replace(CARD, tiled_forward={"upscale": (0.0, 1.0)}),
        module=None,
        forward=lambda x: x,
        device=torch.device("cpu"),
        dtype=torch.float32,
    )
    path = tmp_path / "warm.json"
    assert (
        record(model, "upscale", scale=None, weights=None, dtype="auto", device="cpu", size=(8, 8), path=path)
        is False
    )
    assert not path.exists()
    for text in ("", "{", '{"version": 1, "entries": []}', '{"version": 9, "entries": {}}', "[1]"):
        path.write_text(text)
        assert read_index(path) == {}


class _Upscaler:
    """An x2 nearest upscaler whose edit is honest (the tiled forward, clamped) or not (halved)."""

    def __init__(self, honest: bool) -> None:
        self.honest = honest

    @hookimpl
    def register_models(self, register):
        register(dataclasses.replace(CARD, name="up", tiled_forward={"upscale": (0.0, 1.0)}))

    @hookimpl
    def edit(self, request):
        y = request.tiler(request.model, request.image)
        return y.clamp(0, 1) if self.honest else (y * 0.5).clamp(0, 1)


@pytest.mark.parametrize("honest", [True, False])
def test_the_conformance_check_holds_a_card_to_its_tiled_forward(honest):
    from genedit_core.api import get_card
    from genedit_core.testing import _run_task, plugins_installed

    with plugins_installed(up=_Upscaler(honest)):
        model = LoadedModel(
            card=get_card("up"),
            module=None,
            forward=lambda x: x.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1),
            device=torch.device("cpu"),
            dtype=torch.float32,
            scale=2,
        )
        problems = _run_task(model, "upscale")
    if honest:
        assert problems == []
    else:
        assert len(problems) == 1 and "declares it a tiled forward" in problems[0], problems
