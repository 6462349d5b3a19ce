"""The layout registry: explicit order, unique names, atomic adds, and detection that picks one layout."""

from __future__ import annotations

import pytest
import torch
from genedit_sr.layouts import LAYOUTS, Layout, LayoutRegistry, make_module


def _z(*shape: int) -> torch.Tensor:
    return torch.zeros(shape)


def samples() -> dict[str, dict[str, torch.Tensor]]:
    """One minimal state dict per layout, under that layout's published key names."""
    official = {
        "head.0.weight": _z(4, 3, 3, 3),
        "body.0.body.0.weight": _z(4, 4, 3, 3),
        "body.0.body.2.weight": _z(4, 4, 3, 3),
        "body.1.weight": _z(4, 4, 3, 3),
        "tail.0.0.weight": _z(16, 4, 3, 3),
        "tail.1.weight": _z(3, 4, 3, 3),
    }
    esrgan = {
        "conv_first.weight": _z(4, 3, 3, 3),
        "RRDB_trunk.0.RDB1.conv1.weight": _z(2, 4, 3, 3),
        "trunk_conv.weight": _z(4, 4, 3, 3),
        "upconv1.weight": _z(4, 4, 3, 3),
        "HRconv.weight": _z(4, 4, 3, 3),
        "conv_last.weight": _z(3, 4, 3, 3),
    }
    old = {
        "model.0.weight": _z(4, 3, 3, 3),
        "model.1.sub.0.RDB1.conv1.0.weight": _z(2, 4, 3, 3),
        "model.1.sub.1.weight": _z(4, 4, 3, 3),
        "model.3.weight": _z(4, 4, 3, 3),
        "model.6.weight": _z(4, 4, 3, 3),
        "model.8.weight": _z(4, 4, 3, 3),
        "model.10.weight": _z(3, 4, 3, 3),
    }
    tiny = {"num_feat": 4, "num_block": 1}
    return {
        "edsr-official": official,
        "edsr-basicsr": make_module("edsr", {**tiny, "scale": 2}).state_dict(),
        "rrdb-basicsr": make_module("rrdb", {**tiny, "num_grow_ch": 2, "scale": 4}).state_dict(),
        "rrdb-esrgan": esrgan,
        "rrdb-esrgan-old": old,
        "srcnn": make_module("srcnn", {"scale": 2, "features": [4, 2]}).state_dict(),
        "espcn": make_module("espcn", {"scale": 3, "features": [4, 2]}).state_dict(),
        "vdsr": make_module("vdsr", {"scale": 2, "num_feat": 4, "num_layers": 3}).state_dict(),
    }


def test_registry_order_is_explicit():
    assert LAYOUTS.names() == [
        "edsr-official",
        "edsr-basicsr",
        "rrdb-basicsr",
        "rrdb-esrgan",
        "rrdb-esrgan-old",
        "srcnn",
        "espcn",
        "vdsr",
    ]
    assert LAYOUTS.names("rrdb") == ["rrdb-basicsr", "rrdb-esrgan", "rrdb-esrgan-old"]


@pytest.mark.parametrize("name", list(samples()))
def test_each_sample_is_detected_by_exactly_its_layout(name):
    state = samples()[name]
    accepted = [layout.name for layout in LAYOUTS if layout.detect(state)]
    assert accepted == [name]
    assert LAYOUTS.find(state).name == name


def test_duplicate_name_raises_and_add_is_atomic():
    reg = LayoutRegistry()
    a = Layout("a", "edsr", lambda s: False, lambda s, c: ({}, {}))
    b = Layout("b", "edsr", lambda s: False, lambda s, c: ({}, {}))
    reg.add(a)
    with pytest.raises(ValueError, match="'a' is already registered"):
        reg.add(b, a)
    assert reg.names() == ["a"]
    with pytest.raises(ValueError, match="unknown architecture 'unet'"):
        reg.add(Layout("c", "unet", lambda s: False, lambda s, c: ({}, {})))
    assert len(reg) == 1


def test_hint_goes_first_but_must_still_detect():
    reg = LayoutRegistry()
    reg.add(
        Layout("first", "edsr", lambda s: "x" in s, lambda s, c: ({}, {})),
        Layout("second", "edsr", lambda s: "x" in s, lambda s, c: ({}, {})),
        Layout("never", "edsr", lambda s: False, lambda s, c: ({}, {})),
    )
    assert reg.find({"x": _z(1)}).name == "first"
    assert reg.find({"x": _z(1)}, hint="second").name == "second"
    assert reg.find({"x": _z(1)}, hint="never").name == "first"
    assert reg.find({"y": _z(1)}) is None


def test_detect_errors_count_as_no_match():
    reg = LayoutRegistry()
    reg.add(Layout("broken", "edsr", lambda s: s["absent"].shape[0] > 0, lambda s, c: ({}, {})))
    assert reg.find({"x": _z(1)}) is None


def test_arch_filter():
    rrdb = samples()["rrdb-basicsr"]
    assert LAYOUTS.find(rrdb, "edsr") is None
    assert LAYOUTS.find(rrdb, "rrdb").name == "rrdb-basicsr"


def test_converted_samples_load_strictly():
    """Every converter yields exactly our module's keys for its sample (the layouts are complete)."""
    from genedit_sr.layouts import ARCHITECTURES

    for name, state in samples().items():
        layout = LAYOUTS.get(name)
        full = _with_biases(state)
        canonical, hp = layout.convert(full, {})
        hp.setdefault("scale", 2)
        module = make_module(layout.arch, hp)
        assert isinstance(module, ARCHITECTURES[layout.arch])
        assert set(canonical) == set(module.state_dict()), name


def _with_biases(state: dict) -> dict:
    out = dict(state)
    for key, value in state.items():
        if key.endswith(".weight"):
            out.setdefault(key[: -len("weight")] + "bias", torch.zeros(value.shape[0]))
    if "RRDB_trunk.0.RDB1.conv1.weight" in state or "model.1.sub.0.RDB1.conv1.0.weight" in state:
        out = _complete_rrdb(out)
    return out


def _complete_rrdb(state: dict) -> dict:
    """Fill in the other dense convs of the single block in the ESRGAN samples."""
    old = "model.1.sub.0.RDB1.conv1.0.weight" in state
    for k in (1, 2, 3):
        for j in range(1, 6):
            name = f"model.1.sub.0.RDB{k}.conv{j}.0" if old else f"RRDB_trunk.0.RDB{k}.conv{j}"
            shape = (4 if j == 5 else 2, 4 + (j - 1) * 2, 3, 3)
            state.setdefault(f"{name}.weight", _z(*shape))
            state.setdefault(f"{name}.bias", _z(shape[0]))
    return state


def test_every_architecture_module_is_registered_and_every_network_card_has_one():
    """A new module in genedit_sr/layouts/ that is not in the registry's tuple would never detect."""
    import pkgutil

    import genedit_sr.layouts as package
    from genedit_sr.cards import CARDS
    from genedit_sr.layouts import ARCH_FOR_CARD, ARCHITECTURES, CARD_FOR_ARCH

    modules = {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    assert modules == {m.__name__.rsplit(".", 1)[1] for m in package._MODULES}
    for arch in ARCHITECTURES:
        assert LAYOUTS.names(arch), arch
        assert ARCH_FOR_CARD[CARD_FOR_ARCH[arch]] == arch
    networks = {card.name for card in CARDS if card.name not in ("bicubic", "lanczos")}
    assert networks <= set(ARCH_FOR_CARD)
