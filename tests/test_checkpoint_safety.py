"""Checkpoints are data: pickles with code are refused unrun; wrappers and prefixes are cleaned up."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from genedit_core.checkpoint import canonicalize, load_state_dict
from genedit_core.errors import UnsafeCheckpointError, WeightsError


class _TouchesAFile:
    """Unpickling this would call ``open(marker, 'w')``, creating the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def write_evil_checkpoint(path: Path, marker: Path, how: str = "zip") -> Path:
    payload = {"conv.weight": torch.ones(3, 3, 1, 1), "surprise": _TouchesAFile(marker)}
    if how == "zip":
        torch.save(payload, path)
    elif how == "legacy":
        torch.save(payload, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    assert not marker.exists()
    return path


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["zip", "legacy", "raw-pickle"])
def test_pickle_with_code_is_refused_and_nothing_runs(tmp_path, how):
    marker = tmp_path / "pwned"
    path = write_evil_checkpoint(tmp_path / f"evil-{how}.pt", marker, how)

    with pytest.raises(UnsafeCheckpointError) as exc:
        load_state_dict(path)

    message = str(exc.value)
    assert str(path) in message
    assert "refused" in message and "nothing in it was run" in message
    if how != "raw-pickle":  # torch's own format: the refused global is named (io or _io by version)
        assert "(global io.open)" in message or "(global _io.open)" in message
    assert not marker.exists()


def test_tensor_only_pickle_loads(tmp_path):
    state = {"a": torch.arange(6.0).reshape(2, 3), "nested": {"b": torch.ones(2)}}
    torch.save(state, tmp_path / "ok.pth")
    loaded = load_state_dict(tmp_path / "ok.pth")
    assert torch.equal(loaded["a"], state["a"])
    assert torch.equal(loaded["nested"]["b"], state["nested"]["b"])


@pytest.mark.parametrize(
    ("content", "needle"),
    [(b"", "empty"), (b"this is not a checkpoint", "not a readable PyTorch checkpoint")],
)
def test_unreadable_files_name_the_file(tmp_path, content, needle):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(WeightsError) as exc:
        load_state_dict(path)
    assert not isinstance(exc.value, UnsafeCheckpointError)
    assert str(path) in str(exc.value) and needle in str(exc.value)


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_state_dict(tmp_path / "nope.safetensors")


def test_non_dict_checkpoint_is_refused(tmp_path):
    torch.save([torch.ones(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="expected a dict of tensors, got list"):
        load_state_dict(tmp_path / "list.pt")


def test_safetensors_round_trip(tmp_path):
    from safetensors.torch import save_file

    state = {
        "head.0.weight": torch.randn(4, 3, 3, 3),
        "head.0.bias": torch.randn(4),
        "bf16": torch.randn(5).to(torch.bfloat16),
        "int": torch.arange(7, dtype=torch.int64),
    }
    save_file(state, tmp_path / "w.safetensors")
    loaded = load_state_dict(tmp_path / "w.safetensors")
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert loaded[key].dtype == value.dtype
        assert torch.equal(loaded[key], value)


def test_corrupt_safetensors_is_a_weights_error(tmp_path):
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(WeightsError) as exc:
        load_state_dict(path)
    assert str(path) in str(exc.value) and "not a valid safetensors file" in str(exc.value)


W = torch.arange(4.0)


@pytest.mark.parametrize("wrapper", ["state_dict", "params", "params_ema", "model", "net", "g_ema"])
def test_canonicalize_unwraps_training_wrappers(wrapper):
    state = {wrapper: {"conv.weight": W}, "epoch": 7, "optimizer": {"lr": 0.1}}
    assert set(canonicalize(state)) == {"conv.weight"}
    assert torch.equal(canonicalize(state)["conv.weight"], W)


def test_canonicalize_prefers_params_ema_and_strips_module_prefixes():
    ema, raw = torch.ones(2), torch.zeros(2)
    state = {"params": {"module.conv.weight": raw}, "params_ema": {"module.conv.weight": ema}}
    out = canonicalize(state)
    assert list(out) == ["conv.weight"]
    assert torch.equal(out["conv.weight"], ema)


def test_canonicalize_nested_wrappers_and_repeated_prefixes():
    state = {"state_dict": {"model": {"module._orig_mod.module.body.0.weight": W}}}
    assert list(canonicalize(state)) == ["body.0.weight"]


def test_canonicalize_keeps_named_extras_and_drops_other_non_tensors():
    avg = torch.full((3,), 0.5)
    state = {"g_ema": {"style.1.weight": W}, "d": {"x": W}, "latent_avg": avg, "args": {"size": 256}}
    out = canonicalize(state, ("latent_avg",))
    assert set(out) == {"style.1.weight", "latent_avg"}
    assert torch.equal(out["latent_avg"], avg)


def test_canonicalize_plain_state_dict_is_unchanged():
    state = {"model.0.weight": W, "model.0.bias": W[:1]}  # DnCNN-style keys, not a wrapper
    assert canonicalize(state).keys() == state.keys()


def test_canonicalize_without_tensors_fails():
    with pytest.raises(WeightsError, match="no tensors"):
        canonicalize({"epoch": 3, "model": {"note": "empty"}})
