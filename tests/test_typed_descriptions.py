"""Typed model descriptions: card fields instead of ``extra`` strings, ``latent_shape`` apart from
``in_channels``, the dtype chosen by the core alone, and the one strict state-dict loader."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from inline_plugin import CardsPlugin, passthrough_model
from torch import nn

import genedit_core
import genedit_core.device as device_mod
from genedit_core import hookimpl
from genedit_core.api import check_scale
from genedit_core.cards import ModelCard
from genedit_core.checkpoint import load_strict
from genedit_core.errors import PluginError, UsageError, WeightsError
from genedit_core.model import LoadedModel
from genedit_core.pipeline import is_group_task


def card(**kw) -> ModelCard:
    base = {"name": "typed", "tasks": ("upscale",), "family": "test", "summary": "typed card tests"}
    return ModelCard(**{**base, **kw})


# --- card fields ---------------------------------------------------------------------------------


def test_extra_strings_are_gone():
    with pytest.raises(TypeError, match="extra"):
        card(extra={"default_scale": 2})


def test_default_scale_and_any_scale_drive_check_scale():
    c = card(scales=(2, 4), default_scale=4)
    assert check_scale(c, None) == 4
    assert check_scale(card(scales=(3, 2)), None) == 3  # no default: the first listed
    with pytest.raises(UsageError, match="has no x5"):
        check_scale(c, 5)
    assert check_scale(card(scales=(2,), any_scale=True), 5) == 5


def test_contradictory_cards_fail_when_made():
    with pytest.raises(ValueError, match="default_scale 3 is not among scales"):
        card(scales=(2, 4), default_scale=3)
    with pytest.raises(ValueError, match="group_tasks .*'blend'.* not among tasks"):
        card(group_tasks=("blend",))
    assert card(scales=(2,), any_scale=True, default_scale=3).scale_when_unset == 3


def test_group_tasks_come_from_the_card():
    c = card(tasks=("upscale", "blend"), group_tasks=("blend",))
    model = LoadedModel(card=c, module=None, forward=lambda x: x, device="cpu", dtype=torch.float32)
    assert is_group_task(model, "blend") and not is_group_task(model, "upscale")


def test_card_json_shows_the_typed_fields():
    data = card(tasks=("upscale", "blend"), scales=(2, 4), group_tasks=("blend",), any_scale=True).to_dict()
    assert data["default_scale"] == 2 and data["any_scale"] is True and data["group_tasks"] == ["blend"]


class Recorder(CardsPlugin):
    """Builds an identity model and records what the core handed it."""

    def __init__(self, *cards: ModelCard, follow_dtype: bool = True):
        super().__init__(*cards, name="recorder")
        self.follow_dtype, self.requests = follow_dtype, []

    @hookimpl
    def load_model(self, request):
        self.requests.append(request)
        return passthrough_model(request, dtype=request.dtype if self.follow_dtype else torch.float32)


def test_keep_keys_keep_top_level_entries_next_to_the_weights(install, tmp_path):
    path = tmp_path / "g.pt"
    torch.save({"g_ema": {"w": torch.ones(2)}, "latent_avg": torch.zeros(3)}, path)
    keeps = Recorder(card(name="keeps", keep_keys=("latent_avg",)), card(name="drops"))
    install(keeps)
    genedit_core.load("keeps", weights=str(path), device="cpu")
    genedit_core.load("drops", weights=str(path), device="cpu")
    assert set(keeps.requests[0].state_dict) == {"w", "latent_avg"}
    assert set(keeps.requests[1].state_dict) == {"w"}


# --- dtype: the core's choice alone --------------------------------------------------------------


def test_plugins_get_and_must_keep_the_core_dtype(install, monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    install(
        Recorder(
            card(name="safe", bf16_safe=True, needs_weights=False), card(name="plain", needs_weights=False)
        )
    )
    assert genedit_core.load("safe", device="cpu").dtype == torch.bfloat16  # auto + bf16_safe
    assert genedit_core.load("plain", device="cpu").dtype == torch.float32  # auto, not declared safe
    assert genedit_core.load("plain", device="cpu", dtype="bf16").dtype == torch.bfloat16  # asked for


def test_a_plugin_overriding_the_dtype_is_refused(install, monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    install(Recorder(card(name="stubborn", needs_weights=False), follow_dtype=False))
    assert genedit_core.load("stubborn", device="cpu").dtype == torch.float32  # fp32 was chosen: fine
    with pytest.raises(PluginError, match=r"built model 'stubborn' in fp32, but bf16 was chosen"):
        genedit_core.load("stubborn", device="cpu", dtype="bf16")


# --- latent_shape apart from in_channels ---------------------------------------------------------


def test_a_generator_takes_latents_of_latent_shape():
    gen = LoadedModel(
        card=card(tasks=("generate",)),
        module=None,
        forward=lambda z: z.view(-1, 1, 2, 2).expand(-1, 3, 2, 2),
        device="cpu",
        dtype=torch.float32,
        in_channels=0,
        latent_shape=(4,),
    )
    assert gen.takes_latent
    assert gen(torch.zeros(2, 4)).shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match=r"expected latents N×4, got \(2, 5\)"):
        gen(torch.zeros(2, 5))


def test_an_autoencoder_has_a_latent_but_takes_images():
    vae = LoadedModel(
        card=card(tasks=("reconstruct",)),
        module=None,
        forward=lambda x: x,
        device="cpu",
        dtype=torch.float32,
        latent_shape=(16,),
    )
    assert not vae.takes_latent and vae.in_channels == 3
    assert vae(torch.zeros(1, 3, 4, 4)).shape == (1, 3, 4, 4)
    with pytest.raises(ValueError, match="expected N×3×H×W"):
        vae(torch.zeros(1, 16))


# --- the one strict loader -----------------------------------------------------------------------


def net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1))


def test_load_strict_loads_a_matching_state():
    source, target = net(), net()
    load_strict(target, {**source.state_dict(), "meta": "kept by keep_keys, not a weight"}, "w.pt")
    assert torch.equal(target[2].weight, source[2].weight)


def test_load_strict_names_the_file_and_every_kind_of_mismatch_in_one_line():
    state = dict(net().state_dict())
    del state["0.bias"]
    state["2.weight"] = torch.zeros(2, 4, 3, 3)
    state.update({f"extra.{i}": torch.zeros(1) for i in range(6)})
    with pytest.raises(WeightsError) as info:
        load_strict(net(), state, "/w/model.pt", note="read as test-layout")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("/w/model.pt (read as test-layout): does not fit the Sequential built for it: ")
    assert "missing 1 key: 0.bias" in msg
    assert "unexpected 6 keys: extra.0, extra.1, extra.2, extra.3 (+2 more)" in msg
    assert "mis-shaped 1 key: 2.weight (file 2×4×3×3, network 2×4×1×1)" in msg


def test_load_strict_allows_optional_keys_to_be_absent():
    target = net()
    target.register_buffer("avg", torch.full((2,), 7.0))
    state = {k: v for k, v in net().state_dict().items()}
    load_strict(target, state, "w.pt", optional=("avg",))
    assert torch.equal(target.avg, torch.full((2,), 7.0))
    with pytest.raises(WeightsError, match="missing 1 key: avg"):
        load_strict(target, state, "w.pt")


# --- the CLI: overlap from the model, a short one warned about ------------------------------------


class Reach:
    """A 3×3 box blur applied 3 times: reaches 3 pixels, so the receptive field is 3."""

    name = "reach"

    @hookimpl
    def register_models(self, register):
        register(card(name="reach", tasks=("blur",), needs_weights=False, channels_last=False))

    @hookimpl
    def load_model(self, request):
        def forward(x):
            for _ in range(3):
                x = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
            return x

        return LoadedModel(
            card=request.card, module=None, forward=forward, device=request.device, dtype=request.dtype,
            receptive_field=3,
        )  # fmt: skip

    @hookimpl
    def edit(self, request):
        return request.tiler(request.model, request.image)


def test_cli_overlap_defaults_to_the_receptive_field_and_warns_below_it(install, cli, tmp_path):
    from PIL import Image

    from genedit_core.images import read_provenance

    install(Reach())
    rng = torch.Generator().manual_seed(0)
    for name in ("a.png", "b.png"):
        pixels = (torch.rand(70, 70, 3, generator=rng) * 255).to(torch.uint8).numpy()
        Image.fromarray(pixels).save(tmp_path / name)
    inputs = (str(tmp_path / "a.png"), str(tmp_path / "b.png"))

    whole = cli("run", "blur", "-m", "reach", "--tile", "0", *inputs, "--out-dir", "whole", "-q")
    tiled = cli("run", "blur", "-m", "reach", "--tile", "32", *inputs, "--out-dir", "tiled", "-q")
    short = cli(
        "run", "blur", "-m", "reach", "--tile", "32", "--tile-overlap", "1", *inputs, "--out-dir", "short"
    )

    assert whole.code == tiled.code == short.code == 0, (whole, tiled, short)
    assert "warning" not in tiled.err
    warnings_seen = [line for line in short.err.splitlines() if line.startswith("warning:")]
    assert warnings_seen == [
        "warning: tile overlap 1 is below the receptive field of model 'reach' (3 pixels): tile seams may "
        "show; the default overlap (3) avoids them"
    ]  # once for the batch, one line
    for name in ("a_reach_blur.png", "b_reach_blur.png"):
        a, b = (np.asarray(Image.open(tmp_path / d / name)) for d in ("whole", "tiled"))
        assert np.array_equal(a, b)
        assert not np.array_equal(a, np.asarray(Image.open(tmp_path / "short" / name)))
    assert read_provenance(tmp_path / "tiled" / "a_reach_blur.png")["tile_overlap"] == 3
    assert read_provenance(tmp_path / "short" / "a_reach_blur.png")["tile_overlap"] == 1
