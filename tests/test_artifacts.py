"""The converting runtimes' shared pieces (``genedit_core.artifacts``): an atomically published cache
entry, and the loaded model's forward as one module."""

from __future__ import annotations

import pytest

from genedit_core.sdk import forward_module, publish_folder


def _fill(text: str):
    def fill(folder):
        (folder / "model.bin").write_text(text)
        (folder / "check.json").write_text("{}")

    return fill


def test_an_entry_appears_whole_and_no_temporary_folder_is_left(tmp_path):
    final = tmp_path / "cache" / "abc"
    assert publish_folder(final, _fill("ours")) == final
    assert (final / "model.bin").read_text() == "ours"
    assert [p.name for p in final.parent.iterdir()] == ["abc"]


def test_a_failing_fill_leaves_nothing(tmp_path):
    final = tmp_path / "abc"

    def fill(folder):
        (folder / "model.bin").write_text("half")
        raise RuntimeError("converter died")

    with pytest.raises(RuntimeError, match="converter died"):
        publish_folder(final, fill)
    assert list(tmp_path.iterdir()) == []


def test_an_entry_another_process_published_first_is_kept(tmp_path):
    final = tmp_path / "abc"
    publish_folder(final, _fill("theirs"))
    (final / "extra").write_text("x")  # a non-empty folder: the rename onto it fails
    assert publish_folder(final, _fill("ours")) == final
    assert (final / "model.bin").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc"]


def test_a_clash_with_something_that_is_not_an_entry_is_raised(tmp_path):
    final = tmp_path / "abc"
    final.mkdir()
    (final / "stray").write_text("not a cache entry")
    with pytest.raises(OSError):
        publish_folder(final, _fill("ours"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abc"]


def test_forward_module_runs_the_models_forward_and_holds_its_parameters():
    import torch

    from genedit_core.cards import ModelCard
    from genedit_core.model import LoadedModel

    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    card = ModelCard(name="toy-wrap", tasks=("shade",), family="test", summary="s", needs_weights=False)
    model = LoadedModel(
        card=card, module=net, forward=lambda x: net(x) * 2 + 1, device="cpu", dtype=torch.float32
    )
    wrapped = forward_module(model)
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.allclose(wrapped(x), net(x) * 2 + 1)
    assert not wrapped.training
    assert {id(p) for p in wrapped.parameters()} == {id(p) for p in net.parameters()}


def test_model_fields_change_with_what_the_program_depends_on():
    import torch

    from genedit_core.cards import ModelCard
    from genedit_core.model import LoadedModel
    from genedit_core.sdk import model_fields, tensors_sha256

    card = ModelCard(name="toy-key", tasks=("shade",), family="test", summary="s", needs_weights=False)

    def loaded(seed: int, dtype=torch.float32, scale=1):
        torch.manual_seed(seed)
        net = torch.nn.Conv2d(3, 3, 3)
        return LoadedModel(card=card, module=net, forward=net, device="cpu", dtype=dtype, scale=scale)

    base = model_fields(loaded(0))
    assert base["card"] == "toy-key" and base["weights_sha256"].startswith("tensors:")
    assert model_fields(loaded(0)) == base  # the same tensors, the same key
    assert model_fields(loaded(1))["weights_sha256"] != base["weights_sha256"]
    assert model_fields(loaded(0, dtype=torch.bfloat16))["dtype"] != base["dtype"]
    assert model_fields(loaded(0, scale=2))["scale"] == 2
    assert tensors_sha256(loaded(0).module) == base["weights_sha256"].removeprefix("tensors:")


def test_probe_check_names_a_shape_mismatch_or_a_difference_above_the_limit():
    import torch

    from genedit_core.sdk import probe_check

    want = torch.zeros(1, 3, 4, 4)
    ok = probe_check(want + 1e-6, want, "1x3x4x4", 1e-4)
    assert ok["ok"] and ok["probe"] == "1x3x4x4" and ok["max_abs_diff"] <= 1e-4
    far = probe_check(want + 0.5, want, "1x3x4x4", 1e-4)
    assert not far["ok"] and "differs from torch by 0.5" in far["reason"]
    shaped = probe_check(torch.zeros(1, 3, 2, 2), want, "1x3x4x4", 1e-4, shape_note="(traced)")
    assert not shaped["ok"] and "(1, 3, 2, 2)" in shaped["reason"] and shaped["reason"].endswith("(traced)")
    assert not probe_check(want + float("nan"), want, "1x3x4x4", 1e-4)["ok"]  # NaN is never within the limit
