"""junyanz checkpoints load and run as the reference network does.

The reference forward below is written from the published architecture with plain ``torch.nn.
functional`` calls on the state dict, by literal key name, so it shares no code with
``genedit_cyclegan._arch``: a wrong index, padding, norm or output mapping in the plugin shows up
as a difference. Checkpoints are built as the reference repository saves them
(``latest_net_G_A.pth``: a plain state dict, torch.save).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cyclegan_testutil import run_cli, write_png
from PIL import Image

import genedit_core
from genedit_core.errors import UsageError, WeightsError


def junyanz_state(
    ngf: int, n_blocks: int, seed: int = 0, nc: int = 3, affine: bool = False, block: str = "conv_block"
) -> dict[str, torch.Tensor]:
    """Random weights under the reference repository's key names for resnet_{n_blocks}blocks
    (``affine``: with instance-norm scales and shifts; ``block``: the residual Sequential's name)."""
    g = torch.Generator().manual_seed(seed)

    def conv(name: str, cout: int, cin: int, k: int, transposed: bool = False, norm: str = "") -> None:
        shape = (cin, cout, k, k) if transposed else (cout, cin, k, k)
        state[f"{name}.weight"] = torch.randn(shape, generator=g) * (1.0 / (cin * k * k) ** 0.5)
        state[f"{name}.bias"] = torch.randn(cout, generator=g) * 0.1
        if affine and norm:
            state[f"{norm}.weight"] = 1 + 0.2 * torch.randn(cout, generator=g)
            state[f"{norm}.bias"] = 0.2 * torch.randn(cout, generator=g)

    state: dict[str, torch.Tensor] = {}
    conv("model.1", ngf, nc, 7, norm="model.2")
    conv("model.4", 2 * ngf, ngf, 3, norm="model.5")
    conv("model.7", 4 * ngf, 2 * ngf, 3, norm="model.8")
    for i in range(10, 10 + n_blocks):
        conv(f"model.{i}.{block}.1", 4 * ngf, 4 * ngf, 3, norm=f"model.{i}.{block}.2")
        conv(f"model.{i}.{block}.5", 4 * ngf, 4 * ngf, 3, norm=f"model.{i}.{block}.6")
    conv(f"model.{10 + n_blocks}", 2 * ngf, 4 * ngf, 3, transposed=True, norm=f"model.{11 + n_blocks}")
    conv(f"model.{13 + n_blocks}", ngf, 2 * ngf, 3, transposed=True, norm=f"model.{14 + n_blocks}")
    conv(f"model.{17 + n_blocks}", nc, ngf, 7)
    return state


def reference_forward(
    s: dict[str, torch.Tensor], x: torch.Tensor, n_blocks: int, block: str = "conv_block"
) -> torch.Tensor:
    """The ResNet generator on x in [-1, 1], from the published description."""

    def inorm(t, name=None):
        w, b = (s.get(f"{name}.weight"), s.get(f"{name}.bias")) if name else (None, None)
        return F.instance_norm(t, weight=w, bias=b, eps=1e-5)

    def conv(t, name, stride=1, pad=0):
        return F.conv2d(t, s[f"{name}.weight"], s[f"{name}.bias"], stride=stride, padding=pad)

    h = F.relu(inorm(conv(F.pad(x, (3, 3, 3, 3), mode="reflect"), "model.1"), "model.2"))
    h = F.relu(inorm(conv(h, "model.4", 2, 1), "model.5"))
    h = F.relu(inorm(conv(h, "model.7", 2, 1), "model.8"))
    for i in range(10, 10 + n_blocks):
        p = f"model.{i}.{block}"
        r = F.relu(inorm(conv(F.pad(h, (1,) * 4, mode="reflect"), f"{p}.1"), f"{p}.2"))
        r = inorm(conv(F.pad(r, (1,) * 4, mode="reflect"), f"{p}.5"), f"{p}.6")
        h = h + r
    for idx in (10 + n_blocks, 13 + n_blocks):
        w, b = s[f"model.{idx}.weight"], s[f"model.{idx}.bias"]
        h = F.conv_transpose2d(h, w, b, stride=2, padding=1, output_padding=1)
        h = F.relu(inorm(h, f"model.{idx + 1}"))
    return torch.tanh(conv(F.pad(h, (3, 3, 3, 3), mode="reflect"), f"model.{17 + n_blocks}"))


@pytest.mark.parametrize("n_blocks", [6, 9])
def test_junyanz_checkpoint_matches_reference_forward(tmp_path, n_blocks):
    state = junyanz_state(ngf=4, n_blocks=n_blocks)
    # the published names, literally, for the two generator sizes junyanz ships
    last = {6: "model.23.weight", 9: "model.26.weight"}[n_blocks]
    up = {6: ("model.16.weight", "model.19.weight"), 9: ("model.19.weight", "model.22.weight")}[n_blocks]
    for key in ("model.1.weight", "model.10.conv_block.1.weight", "model.10.conv_block.5.bias", last, *up):
        assert key in state
    path = tmp_path / "latest_net_G_A.pth"
    torch.save(state, path)
    model = genedit_core.load("cyclegan", weights=str(path), device="cpu", dtype="fp32")
    assert model.hyperparameters["n_blocks"] == n_blocks and model.hyperparameters["ngf"] == 4
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        ours = model(x)
        ref = (reference_forward(state, x * 2 - 1, n_blocks) + 1) / 2
    assert ours.shape == ref.shape == x.shape
    assert torch.allclose(ours, ref, atol=1e-5), float((ours - ref).abs().max())


def test_ports_with_affine_norms_and_block_named_block_load(tmp_path):
    """vintagify's layout: InstanceNorm2d(affine=True) (model.2.weight, ...) and model.N.block.*."""
    state = junyanz_state(ngf=4, n_blocks=9, seed=5, affine=True, block="block")
    assert "model.10.block.6.weight" in state and state["model.10.block.6.weight"].ndim == 1
    torch.save(state, tmp_path / "G_A2B_epoch33.pth")
    model = genedit_core.load(
        "cyclegan", weights=str(tmp_path / "G_A2B_epoch33.pth"), device="cpu", dtype="fp32"
    )
    assert model.hyperparameters["affine"] and not model.hyperparameters["dropout"]
    x = torch.rand(1, 3, 16, 24)
    with torch.no_grad():
        ref = (reference_forward(state, x * 2 - 1, 9, block="block") + 1) / 2
        assert torch.allclose(model(x), ref, atol=1e-5)


def test_old_files_with_instance_norm_running_stats_load(tmp_path):
    """Checkpoints saved before PyTorch 0.4 carry unused InstanceNorm statistics; they are dropped."""
    state = junyanz_state(ngf=4, n_blocks=6, seed=1)
    clean = dict(state)
    state["model.2.running_mean"] = torch.zeros(4)
    state["model.2.running_var"] = torch.ones(4)
    state["model.10.conv_block.2.running_mean"] = torch.zeros(16)
    torch.save(state, tmp_path / "old.pth")
    model = genedit_core.load("cyclegan", weights=str(tmp_path / "old.pth"), device="cpu", dtype="fp32")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.allclose(model(x), (reference_forward(clean, x * 2 - 1, 6) + 1) / 2, atol=1e-5)


def test_direction_needs_both_generators(tmp_path):
    from genedit_cyclegan.build import directed

    torch.save(junyanz_state(ngf=4, n_blocks=6), tmp_path / "latest_net_G_A.pth")
    model = genedit_core.load("cyclegan", weights=str(tmp_path / "latest_net_G_A.pth"), device="cpu")
    assert directed(model, "a2b") is model
    with pytest.raises(UsageError, match="one generator"):
        directed(model, "b2a")


def test_pair_runs_each_direction(tmp_path):
    """A trainer export (a2b.*, b2a.*) runs B→A through the second generator."""
    from genedit_cyclegan.build import directed
    from safetensors.torch import save_file

    a2b, b2a = junyanz_state(4, 6, seed=2), junyanz_state(4, 6, seed=3)
    pair = {f"a2b.{k}": v for k, v in a2b.items()} | {f"b2a.{k}": v for k, v in b2a.items()}
    save_file(pair, str(tmp_path / "model.safetensors"))
    model = genedit_core.load("cyclegan", weights=str(tmp_path / "model.safetensors"), device="cpu")
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        for direction, state in (("a2b", a2b), ("b2a", b2a)):
            got = directed(model, direction)(x)
            assert torch.allclose(got, (reference_forward(state, x * 2 - 1, 6) + 1) / 2, atol=1e-5)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.pop("model.23.weight"), "output conv is model.23"),
        (lambda s: s.pop("model.1.bias"), "batch norm"),
        (lambda s: s.update({"model.9.conv_block.1.weight": torch.ones(16, 16, 3, 3)}), "resnet blocks"),
        (lambda s: s.update({"model.1.weight": torch.ones(4, 3, 3, 3)}), "not a CycleGAN"),
    ],
)
def test_bad_checkpoints_name_the_file_and_the_cause(tmp_path, mutate, message):
    state = junyanz_state(ngf=4, n_blocks=6)
    mutate(state)
    torch.save(state, tmp_path / "bad.pth")
    with pytest.raises(WeightsError, match=message) as err:
        genedit_core.load("cyclegan", weights=str(tmp_path / "bad.pth"), device="cpu")
    assert "bad.pth" in str(err.value)


def test_cli_translate_with_a_junyanz_file(tmp_path):
    state = junyanz_state(ngf=4, n_blocks=6)
    torch.save(state, tmp_path / "latest_net_G_A.pth")
    write_png(tmp_path / "photo.png", 0, size=(22, 30))  # not a multiple of 4: padded, cropped back
    out = tmp_path / "out.png"
    r = run_cli("run", "translate", "-m", "cyclegan", "--weights", str(tmp_path / "latest_net_G_A.pth"),
                str(tmp_path / "photo.png"), "-o", str(out), "--device", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    got = np.asarray(Image.open(out), dtype=np.float32) / 255
    assert got.shape == (22, 30, 3)
    x = torch.from_numpy(np.asarray(Image.open(tmp_path / "photo.png"), dtype=np.float32) / 255)
    x = F.pad(x.permute(2, 0, 1)[None], (0, 2, 0, 2), mode="reflect")  # the core pads to a multiple of 4
    ref = ((reference_forward(state, x * 2 - 1, 6) + 1) / 2)[0, :, :22, :30].permute(1, 2, 0).numpy()
    assert np.abs(got - ref).max() <= 1 / 255 + 1e-6
    r = run_cli("run", "translate", "-m", "cyclegan", "--weights", str(tmp_path / "latest_net_G_A.pth"),
                "--direction", "b2a", str(tmp_path / "photo.png"), "-o", str(tmp_path / "b.png"), "--device", "cpu")  # fmt: skip
    assert r.returncode == 2 and "one generator" in r.stderr and "Traceback" not in r.stderr


def test_the_generator_cannot_see_global_exposure():
    """A property of the published architecture (instance norm right after the first conv): the
    output ignores a global gain and per-channel offset of the input, G(αx + c) = G(x). So a
    CycleGAN cannot keep an image's own exposure; it learns the domain's typical one (docs: the
    tone pair's measurement)."""
    from genedit_cyclegan._arch.networks import ResnetGenerator

    torch.manual_seed(0)
    g = ResnetGenerator(3, 3, 4, 2).eval()
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    c = torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(g(0.5 * x + c), g(x), atol=1e-4)
        assert not torch.allclose(g(x.flip(-1)), g(x), atol=1e-2)  # content still matters
