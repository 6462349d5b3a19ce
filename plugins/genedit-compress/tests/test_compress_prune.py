"""Pruning: real sparsity, permanent masks, compact storage, dependency-aware channel removal."""

from __future__ import annotations

import json

import pytest
import torch

from genedit_core.requests import OptimizeRequest

FAST = {
    "bench_size": "32",
    "repeats": "1",
    "eval_crop": "32",
    "eval_count": "2",
    "calib_size": "16",
    "calib_count": "4",
}


def optimize(plugins, model, method, out, **params):
    request = OptimizeRequest(
        method, model.card, model, out, {**FAST, **{k: str(v) for k, v in params.items()}}
    )
    return plugins.hook.optimize(request=request)


def test_unknown_method_is_not_ours(plugins, tiny, tmp_path):
    assert optimize(plugins, tiny, "distill-magic", tmp_path) is None


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_unstructured_sparsity_is_real_and_permanent(plugins, tiny, tmp_path, scope):
    report = optimize(plugins, tiny, "prune-unstructured", tmp_path, amount=0.6, scope=scope)
    per_layer = report["details"]["sparsity_per_layer"]
    assert set(per_layer) == {
        "body.0.conv1",
        "body.0.conv2",
        "body.1.conv1",
        "body.1.conv2",
        "conv_after_body",
        "upsample.0",
    }  # RGB-facing layers are kept
    assert abs(report["details"]["sparsity_pruned_layers"] - 0.6) < 0.01
    if scope == "layer":
        assert all(abs(v - 0.6) < 0.02 for v in per_layer.values())
    # Masks are gone: plain parameters, zeros inside them.
    names = [n for n, _ in tiny.module.named_parameters()]
    assert not any(n.endswith("_orig") for n in names) and not list(tiny.module.named_buffers())
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / "model.safetensors"))
    assert float((saved["body.0.conv1.weight"] == 0).float().mean()) == pytest.approx(
        per_layer["body.0.conv1"], abs=1e-4
    )


@pytest.mark.parametrize("scope", ["global", "layer"])
def test_unstructured_prunes_strided_weights(plugins, tiny, tmp_path, scope):
    """Weights that are strided views (as ESPCN's load) once crashed torch's flattening (.view)."""
    convs = [tiny.module.body[0].conv1, tiny.module.conv_after_body]
    with torch.no_grad():
        for m in convs:
            m.weight.data = m.weight.data.transpose(0, 1).contiguous().transpose(0, 1)
    assert not any(m.weight.is_contiguous() for m in convs)
    x = torch.rand(1, 3, 10, 8)
    with torch.no_grad():
        before = tiny.forward(x)
    report = optimize(plugins, tiny, "prune-unstructured", tmp_path, amount=0.5, scope=scope)
    assert abs(report["details"]["sparsity_pruned_layers"] - 0.5) < 0.01
    assert report["details"]["sparsity_per_layer"]["body.0.conv1"] > 0.3
    with torch.no_grad():
        after = tiny.forward(x)
    assert after.shape == before.shape and not torch.equal(after, before)


def test_sparse_file_round_trip_and_smaller(plugins, tiny, tmp_path):
    from genedit_compress.prune import read_sparse
    from safetensors.torch import load_file

    report = optimize(plugins, tiny, "prune-unstructured", tmp_path, amount=0.7)
    assert report["details"]["sparse_file_written"] is True
    assert report["details"]["sparse_bytes"] < report["details"]["dense_bytes"]
    dense = load_file(str(tmp_path / "model.safetensors"))
    sparse = read_sparse(tmp_path / "model.sparse.safetensors")
    assert set(dense) == set(sparse)
    assert all(torch.equal(dense[k], sparse[k]) for k in dense)


def test_unstructured_folder_loads_back_through_owning_plugin(plugins, tiny, tmp_path):
    from genedit_core.api import load

    optimize(plugins, tiny, "prune-unstructured", tmp_path, amount=0.5)
    again = load("tiny-edsr", weights=str(tmp_path), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(again.forward(x), tiny.forward(x))
    card = (tmp_path / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: genedit\n") and "prune-unstructured" in card
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["method"] == "prune-unstructured" and "psnr_y" in report["after"]


def test_structured_groups_follow_residuals_and_pixel_shuffle(plugins, tiny):
    from genedit_compress.structured import prune_channels

    x = torch.rand(1, 3, 14, 9)
    ops, details = prune_channels(tiny, 0.5)
    m = tiny.module
    # Residual stream: every conv writing into it keeps the same 4 of 8 channels.
    assert (
        m.conv_first.out_channels == 4
        and m.body[0].conv2.out_channels == 4
        and m.conv_after_body.out_channels == 4
    )
    assert m.body[0].conv1.in_channels == 4 and m.upsample[0].in_channels == 4
    # Block-internal channels are their own groups.
    assert m.body[0].conv1.out_channels == 4 and m.body[1].conv2.in_channels == 4
    # Pixel shuffle: whole r²=4 blocks go, so the next conv sees half the channels.
    assert m.upsample[0].out_channels == 16 and m.conv_last.in_channels == 4
    # RGB input and output are untouched, and skipped with a reason.
    assert m.conv_first.in_channels == 3 and m.conv_last.out_channels == 3
    assert set(details["skipped_groups"]) == {"space0", "conv_last"}  # the RGB input, the RGB output
    assert "upsample.0 (pixel shuffle, r²=4)" in details["pruned_groups"]
    with torch.no_grad():
        assert tiny.forward(x).shape == (1, 3, 28, 18)
    assert {op["name"] for op in ops} >= {"conv_first", "upsample.0", "conv_last"}


def test_structured_can_leave_residual_streams(plugins, tiny):
    from genedit_compress.structured import prune_channels

    _, details = prune_channels(tiny, 0.5, residual=False)
    m = tiny.module
    assert m.conv_first.out_channels == 8 and m.conv_after_body.out_channels == 8  # residual stream intact
    assert m.body[0].conv1.out_channels == 4 and m.body[0].conv2.in_channels == 4
    assert "residual" in details["skipped_groups"]["body.0.conv2,body.1.conv2,conv_after_body,conv_first"]


def test_structured_keeps_the_most_important_channels(plugins, tiny):
    from genedit_compress.structured import prune_channels

    with torch.no_grad():
        w = tiny.module.body[0].conv1.weight
        w.mul_(0.01)
        w[[1, 6]] *= 1000.0  # two filters clearly dominate the block-internal group
    prune_channels(tiny, 0.75)
    kept = tiny.module.body[0].conv1.weight
    assert kept.shape[0] == 2 and float(kept.detach().abs().mean()) > 0.1  # the damped filters are ~0.001


def test_structured_norms_and_transposed_convs(plugins, tmp_path):
    from genedit_compress.structured import prune_channels

    from genedit_core.api import load

    gen = load("tiny-gen", device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 8, 8)
    ops, details = prune_channels(gen, 0.5)
    main = gen.module.main
    assert main[0].out_channels == 4 and main[1].num_features == 4 and main[1].running_mean.shape == (4,)
    assert main[3].in_channels == 4 and main[3].out_channels == 4 and main[4].num_features == 4
    assert main[6].in_channels == 4
    with torch.no_grad():
        assert gen.forward(x).shape == (1, 3, 16, 16)


def test_structured_folder_rebuilds_and_finetune_helps(plugins, tiny, tmp_path):
    from genedit_core.api import load

    x = torch.rand(1, 3, 16, 12)
    with torch.no_grad():
        original = tiny.forward(x)
    report = optimize(
        plugins, tiny, "prune-structured", tmp_path / "ft", amount=0.5, finetune_steps=30, lr=1e-3
    )
    ft = report["details"]["finetune"]
    assert ft["loss_last"] < ft["loss_first"]
    # it ran through the shared trainer: its run folder has the metrics log and the final checkpoint
    run = tmp_path / "ft" / "finetune"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged if "l1" in r][-1] == 30
    assert json.loads((run / "checkpoints" / "last.json").read_text())["step"] == 30
    assert report["after"]["params"] < 0.5 * report["before"]["params"]
    again = load("tiny-edsr", weights=str(tmp_path / "ft"), device="cpu", dtype="fp32")
    assert again.module.conv_first.out_channels == 4
    with torch.no_grad():
        assert torch.allclose(again.forward(x), tiny.forward(x), atol=1e-6)
        assert again.forward(x).shape == original.shape
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["genedit"]["compress"]["method"] == "prune-structured"
    assert config["genedit"]["transform"] == "prune-structured"


def test_structured_folder_loads_through_the_core_loader(plugins, tiny, tmp_path):
    """genedit_core.load (what `genedit run --weights DIR` uses) rebuilds the pruned layers."""
    from genedit_core.api import load

    optimize(plugins, tiny, "prune-structured", tmp_path / "p", amount=0.5)
    again = load("tiny-edsr", weights=str(tmp_path / "p"), device="cpu", dtype="fp32")
    assert again.module.conv_first.out_channels == 4
    x = torch.rand(1, 3, 10, 14)
    with torch.no_grad():
        assert again.forward(x).shape == tiny.forward(x).shape


def test_structured_folder_with_tampered_weights_names_the_keys(plugins, tiny, tmp_path):
    """The rebuilt network is loaded by the core's one strict loader: one line, file and keys."""
    from safetensors.torch import load_file, save_file

    from genedit_core.api import load
    from genedit_core.errors import WeightsError

    optimize(plugins, tiny, "prune-structured", tmp_path / "p", amount=0.5)
    path = tmp_path / "p" / "model.safetensors"
    state = load_file(str(path))
    del state["conv_last.bias"]
    state["conv_first.weight"] = torch.zeros(5, 3, 3, 3)
    save_file(state, str(path))
    with pytest.raises(WeightsError) as info:
        load("tiny-edsr", weights=str(tmp_path / "p"), device="cpu", dtype="fp32")
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg and "after the recorded layer changes" in msg
    assert "missing 1 key: conv_last.bias" in msg
    assert "mis-shaped 1 key: conv_first.weight (file 5×3×3×3, network 4×3×3×3)" in msg
