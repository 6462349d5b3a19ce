"""Runtime backends (entry-point group ``genedit.backends``), with the toy plugin and toy runtimes.

Two kinds: a callable that runs an exported file (needs ``--weights``), and a
:class:`~genedit_core.hooktypes.ModuleBackend` whose ``convert`` takes over the network the owner
built from any weights. ``LoadedModel.backend`` names what runs, so provenance can record it.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from toy_plugin import ToyPlugin, nearest, toy_card, toy_state

import genedit_core
from genedit_core.errors import PluginError, UsageError

X = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(0))

CONVERTER = """
    import warnings
    from dataclasses import replace

    from genedit_core.sdk import GeneditWarning

    seen = []


    def convert(model):
        seen.append(model)
        if model.hyperparameters.get("refuse"):
            warnings.warn("toyconv: does not convert; running it in torch", GeneditWarning)
            return model
        inner = model.forward
        return replace(model, forward=lambda x: 1 - inner(x), backend="toyconv")
"""

FILE_RUNNER = """
    from genedit_core.sdk import LoadedModel


    def run(path, *, card=None, device="cpu", weights=None):
        import torch

        return LoadedModel(
            card=card, module=None, forward=torch.zeros_like, device=torch.device("cpu"), dtype=torch.float32
        )
"""


@pytest.fixture
def runtimes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Installs ``toyconv`` (converting) and ``toyfile`` (file runner) as genedit.backends entry points."""
    root = tmp_path / "site"
    info = root / "genedit_toy_runtimes-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: genedit-toy-runtimes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[genedit.backends]\ntoyconv = toyconv_backend\ntoyfile = toyfile_backend:run\n"
    )
    (root / "toyconv_backend.py").write_text(textwrap.dedent(CONVERTER))
    (root / "toyfile_backend.py").write_text(textwrap.dedent(FILE_RUNNER))
    monkeypatch.syspath_prepend(str(root))
    import importlib

    return importlib.import_module("toyconv_backend")


def _weights(tmp_path: Path) -> str:
    path = tmp_path / "toy.safetensors"
    save_file(toy_state(), str(path))
    return str(path)


def test_a_converting_backend_takes_the_built_model_without_an_exported_file(install, runtimes, tmp_path):
    install(ToyPlugin(toy_card()))
    weights = _weights(tmp_path)
    plain = genedit_core.load("toy", weights=weights, device="cpu")
    assert plain.backend == "torch"
    model = genedit_core.load("toy", weights=weights, device="cpu", backend="toyconv")
    assert model.backend == "toyconv"
    assert torch.allclose(model(X), 1 - nearest(X), atol=1e-6)
    built = runtimes.seen[-1]
    # the converter got the finished torch model: weights recorded, dtype chosen by the core
    assert built.backend == "torch" and built.weights is not None and built.weights.path == Path(weights)
    assert built.dtype == torch.float32 and isinstance(built.module, torch.nn.Module)


def test_a_network_that_does_not_convert_runs_in_torch_with_one_warning(
    install, runtimes, tmp_path, monkeypatch
):
    install(ToyPlugin(toy_card()))
    weights = _weights(tmp_path)
    original = runtimes.convert

    def refusing(model):
        model.hyperparameters["refuse"] = True
        return original(model)

    monkeypatch.setattr(runtimes, "convert", refusing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = genedit_core.load("toy", weights=weights, device="cpu", backend="toyconv")
    assert model.backend == "torch" and torch.allclose(model(X), nearest(X), atol=1e-6)
    assert [str(w.message) for w in caught] == ["toyconv: does not convert; running it in torch"]


def test_a_converter_that_crashes_is_one_plugin_error_naming_it(install, runtimes, tmp_path, monkeypatch):
    install(ToyPlugin(toy_card()))

    def crashing(model):
        raise RuntimeError("boom")

    monkeypatch.setattr(runtimes, "convert", crashing)
    with pytest.raises(PluginError, match="backend 'toyconv' failed to convert model 'toy': .*boom"):
        genedit_core.load("toy", weights=_weights(tmp_path), device="cpu", backend="toyconv")


def test_a_file_runner_still_needs_a_file_and_is_recorded(install, runtimes, tmp_path):
    install(ToyPlugin(toy_card()))
    with pytest.raises(UsageError, match="--backend toyfile needs --weights FILE"):
        genedit_core.load("toy", device="cpu", backend="toyfile")
    model = genedit_core.load("toy", weights=_weights(tmp_path), device="cpu", backend="toyfile")
    assert model.backend == "toyfile" and torch.equal(model(X), torch.zeros_like(X))
    with pytest.raises(UsageError, match="no such backend .*toyconv.*toyfile"):
        genedit_core.load("toy", device="cpu", backend="nosuch")


def test_provenance_records_the_backend_that_ran(install, runtimes, tmp_path):
    from PIL import Image

    from genedit_core.batch import run_batch
    from genedit_core.images import read_provenance

    install(ToyPlugin(toy_card()))
    src = tmp_path / "in.png"
    Image.new("RGB", (6, 5), (10, 200, 30)).save(src)
    weights = _weights(tmp_path)
    for backend in ("torch", "toyconv"):
        report = run_batch(
            "upscale",
            [src],
            model="toy",
            weights=weights,
            device="cpu",
            backend=backend,
            out_dir=tmp_path / backend,
        )
        (result,) = report.results
        assert read_provenance(result.outputs[0])["backend"] == backend
