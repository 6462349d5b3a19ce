"""The conformance check (genedit_core.testing) passes a plugin that keeps the contract and fails,
with a line naming the problem, each way a plugin can break it.

Toy plugins only: each is a module written to a temporary folder (the import check runs it in a
fresh interpreter); the clash check sees a second toy installed as a real entry point (a
dist-info folder on sys.path).
"""

from __future__ import annotations

import importlib
import sys
import textwrap
from pathlib import Path

import pytest

from genedit_core.testing import ConformanceError, check_plugin, conformance_cases

TOY = """
from genedit_core.sdk import LoadedModel, ModelCard, Option, hookimpl
{top}

CARDS = [ModelCard(name="{card}", tasks=("shade",), family="toy", summary="toy", licence="MIT"{card_options})]


@hookimpl
def register_models(register):
    for card in CARDS:
        register(card)


@hookimpl
def register_methods(register):
    register("optimize", "{card}-shrink", "toy", ({option},))


@hookimpl
def load_model(request):
    w = request.state_dict["w"]
    return LoadedModel(
        card=request.card, module=None, forward=lambda x: x * w, device=request.device,
        dtype=request.dtype, receptive_field=0,
    )


@hookimpl
def edit(request):
    y = request.tiler(request.model, request.image)
    return {result}


{tiny}
"""

TINY = """
@hookimpl
def tiny_weights(card, scale):
    import torch

    return {"state_dict": {"w": torch.tensor(0.5)}}
"""


def make_toy(tmp_path: Path, monkeypatch, name: str, **changes: str):
    """Import a toy plugin module built from TOY with ``changes``; removed from sys.modules after."""
    values = {
        "top": "",
        "card": name,
        "option": 'Option("amount", float, 0.5, "how much")',
        "result": "y",
        "tiny": TINY,
        "card_options": "",
        **changes,
    }
    module = f"toyconf_{name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(TOY.format(**values)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    mod = importlib.import_module(module)
    monkeypatch.setitem(sys.modules, module, mod)  # forgotten again when the test ends
    return mod


def problems(mod, name: str, tmp_path: Path) -> str:
    with pytest.raises(ConformanceError) as failed:
        check_plugin(mod, tmp_path / "work", name=name)
    return str(failed.value)


def test_a_plugin_that_keeps_the_contract_passes(tmp_path, monkeypatch):
    mod = make_toy(tmp_path, monkeypatch, "toy-good")
    cases = [p.values[0].id for p in conformance_cases(mod, name="toy-good")]
    assert cases == ["toy-good:import", "toy-good:names", "toy-good:toy-good"]
    check_plugin(mod, tmp_path / "work", name="toy-good")


def test_torch_at_import_is_named(tmp_path, monkeypatch):
    mod = make_toy(tmp_path, monkeypatch, "toy-heavy", top="import torch  # noqa: F401")
    text = problems(mod, "toy-heavy", tmp_path)
    assert "toy-heavy:import" in text and "imports torch" in text
    assert "toy-heavy:toy-heavy" not in text  # the rest of the contract is kept


def test_imports_of_private_core_modules_are_named(tmp_path, monkeypatch):
    top = "from genedit_core.errors import UsageError  # noqa: F401\nfrom genedit_core import hookimpl as h  # noqa: F401"
    mod = make_toy(tmp_path, monkeypatch, "toy-private", top=top)
    text = problems(mod, "toy-private", tmp_path)
    assert "toyconf_toy_private.py:3 imports genedit_core.errors; plugins import genedit_core.sdk" in text
    assert "toyconf_toy_private.py:4 imports genedit_core;" in text
    assert "toy-private:toy-private" not in text and "imports torch" not in text


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ("y * 3 - 1", "outside 0–1"),
        ("y.double()", "torch.float64"),
        ("y[:, :2]", "2 channels"),
        ("y.int()", "not floats"),
    ],
    ids=["range", "dtype", "channels", "integers"],
)
def test_bad_outputs_are_named(tmp_path, monkeypatch, result, expected):
    mod = make_toy(tmp_path, monkeypatch, "toy-out", result=result)
    text = problems(mod, "toy-out", tmp_path)
    assert "toy-out:toy-out" in text and "task 'shade'" in text and expected in text


def test_a_card_that_needs_weights_needs_tiny_weights(tmp_path, monkeypatch):
    mod = make_toy(tmp_path, monkeypatch, "toy-noweights", tiny="")
    assert "tiny_weights hook gives none" in problems(mod, "toy-noweights", tmp_path)


def test_a_failing_tiny_weights_hook_is_reported(tmp_path, monkeypatch):
    broken = TINY.replace(
        'return {"state_dict"', 'raise ValueError("no tiny config")\n    return {"state_dict"'
    )
    mod = make_toy(tmp_path, monkeypatch, "toy-tinyfail", tiny=broken)
    text = problems(mod, "toy-tinyfail", tmp_path)
    assert "tiny_weights failed" in text and "no tiny config" in text


def test_an_option_default_of_the_wrong_type_is_named(tmp_path, monkeypatch):
    mod = make_toy(tmp_path, monkeypatch, "toy-opt", option='Option("amount", float, "half", "how much")')
    text = problems(mod, "toy-opt", tmp_path)
    assert "toy-opt:names" in text and "--amount is float but its default is 'half'" in text


def test_a_name_taken_by_another_installed_plugin_is_a_clash(tmp_path, monkeypatch):
    # Another toy, installed for real: a dist-info with an entry point in group genedit.
    site = tmp_path / "site"
    (site / "toyother-0.1.dist-info").mkdir(parents=True)
    (site / "toyother-0.1.dist-info" / "METADATA").write_text("Name: toyother\nVersion: 0.1\n")
    (site / "toyother-0.1.dist-info" / "entry_points.txt").write_text(
        "[genedit]\ntoyother = toyconf_toy_clash\n"
    )
    mod = make_toy(site, monkeypatch, "toy-clash")
    text = problems(mod, "mine", tmp_path)
    assert "model name 'toy-clash' (toy-clash) is also registered by plugin 'toyother'" in text
    assert "optimize method 'toy-clash-shrink' is also registered by plugin 'toyother'" in text


def test_generate_must_give_a_seed_the_same_image_in_any_batch(tmp_path, monkeypatch):
    src = """
    from genedit_core.sdk import LoadedModel, ModelCard, hookimpl

    CARD = ModelCard(name="toy-gen", tasks=("generate",), family="toy", summary="toy", needs_weights=False)


    @hookimpl
    def register_models(register):
        register(CARD)


    @hookimpl
    def load_model(request):
        return LoadedModel(card=request.card, module=None, forward=None, device=request.device,
                           dtype=request.dtype, in_channels=0, tileable=False)


    @hookimpl
    def generate(request):
        import torch

        n = len(request.seeds)  # the batch size leaks into every image
        return torch.full((n, 3, 4, 4), 1.0 / n)
    """
    (tmp_path / "toyconf_gen.py").write_text(textwrap.dedent(src), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toyconf_gen", raising=False)
    mod = importlib.import_module("toyconf_gen")
    assert "seed 1 gives another image alone than next to seed 0" in problems(mod, "toy-gen", tmp_path)


def test_xfail_marks_must_name_a_case(tmp_path, monkeypatch):
    mod = make_toy(tmp_path, monkeypatch, "toy-mark")
    marked = conformance_cases(mod, name="toy-mark", xfail={"toy-mark": "not yet"})
    assert [bool(p.marks) for p in marked] == [False, False, True]
    with pytest.raises(ValueError, match="no case named toy-mrak"):
        conformance_cases(mod, name="toy-mark", xfail={"toy-mrak": "typo"})


def test_an_uninstalled_plugin_name_says_how_to_install(tmp_path):
    with pytest.raises(ConformanceError, match="no installed plugin has entry point 'no-such-plugin'"):
        conformance_cases("no-such-plugin")


def _card_options(*options: str) -> str:
    return ', options={"shade": (' + "".join(o + ", " for o in options) + ")}"


def test_card_options_are_checked_like_method_options(tmp_path, monkeypatch):
    """Each task option a card declares: typed default, within its range, not a name genedit keeps."""
    opts = _card_options(
        'Option("gain", float, 2.0, "how much", low=0.0, high=1.0)',
        'Option("steps", int, "many", "how often")',
        'Option("out_dir", str, None, "a name run keeps for itself")',
    )
    mod = make_toy(tmp_path, monkeypatch, "toy-copt", card_options=opts)
    text = problems(mod, "toy-copt", tmp_path)
    assert "card 'toy-copt' task 'shade': --gain default 2.0 is outside its range" in text
    assert "card 'toy-copt' task 'shade': --steps is int but its default is 'many'" in text
    assert "card 'toy-copt' task 'shade': --out-dir is genedit's own option for this task" in text


def test_eval_options_are_checked_like_task_options(tmp_path, monkeypatch):
    """Options for ``genedit eval``: typed defaults, and never a name eval keeps for itself."""
    opts = ', eval_options={"shade": (Option("data", str, "x", "d"), Option("n", int, 0.5, "how many"))}'
    mod = make_toy(tmp_path, monkeypatch, "toy-eopt", card_options=opts)
    text = problems(mod, "toy-eopt", tmp_path)
    assert "card 'toy-eopt' eval task 'shade': --data is genedit's own option for this task" in text
    assert "card 'toy-eopt' eval task 'shade': --n is int but its default is 0.5" in text


def test_a_declared_default_the_task_cannot_take_is_named(tmp_path, monkeypatch):
    """The task call gets the card's declared defaults: a declaration out of step with the code fails."""
    opts = _card_options('Option("mode", str, "fast", "how", choices=("fast", "slow"))')
    reads = 'y if get_choice(request.params, "mode", "slow", ("slow",)) else y'
    top = "from genedit_core.sdk import get_choice"
    mod = make_toy(tmp_path, monkeypatch, "toy-cdef", card_options=opts, result=reads, top=top)
    text = problems(mod, "toy-cdef", tmp_path)
    assert "toy-cdef:toy-cdef" in text and "task 'shade': --mode fast: expected one of slow" in text
    assert "toy-cdef:names" not in text  # the declaration itself is well formed
