"""``genedit eval`` passes the options a card declares for the benchmark (``ModelCard.eval_options``).

A benchmark's settings (noise levels, hint counts) are the owner's to read, like a task's options:
typed, checked before the model loads, listed by ``genedit info``, and an undeclared one is refused
with one line instead of being dropped.
"""

from __future__ import annotations

import pytest
from inline_plugin import CardsPlugin, passthrough_model

from genedit_core import hookimpl
from genedit_core.cards import ModelCard
from genedit_core.options import Option

LEVELS = Option("levels", str, "15,25", "comma-separated noise levels")
REPEATS = Option("repeats", int, 1, "passes per image", low=1, high=5)


class Scorer(CardsPlugin):
    """Evaluates 'clean' and reports the options it was given, so the test sees what arrived."""

    loads = 0

    def __init__(self) -> None:
        super().__init__(
            ModelCard(
                name="scorer",
                tasks=("clean",),
                family="test",
                summary="Reports its eval options (tests only).",
                needs_weights=False,
                eval_options={"clean": (LEVELS, REPEATS)},
            )
        )

    @hookimpl
    def load_model(self, request):
        Scorer.loads += 1
        return passthrough_model(request)

    @hookimpl
    def evaluate(self, request):
        p = request.params
        row = {"image": "x", "levels": p.get("levels", LEVELS.default), "repeats": p.get("repeats", 1)}
        return {"columns": ["image", "levels", "repeats"], "rows": [row], "summary": {}}


@pytest.fixture
def scorer(install):
    Scorer.loads = 0
    install(Scorer())


def test_declared_eval_options_reach_the_hook_typed(scorer, cli, tmp_path):
    r = cli(
        "eval", "clean", "-m", "scorer", "--data", str(tmp_path), "--levels", "50", "--repeats", "3", "--json"
    )
    assert r.code == 0, r.err
    assert '"levels": "50"' in r.out and '"repeats": 3' in r.out


def test_defaults_apply_when_no_option_is_given(scorer, cli, tmp_path):
    r = cli("eval", "clean", "-m", "scorer", "--data", str(tmp_path), "--json")
    assert r.code == 0, r.err
    assert '"levels": "15,25"' in r.out and '"repeats": 1' in r.out


@pytest.mark.parametrize(
    ("args", "says"),
    [(["--levls", "50"], "--levels"), (["--repeats", "9"], "--repeats"), (["--repeats", "two"], "--repeats")],
)
def test_an_undeclared_or_bad_option_is_one_line_before_loading(scorer, cli, tmp_path, args, says):
    r = cli("eval", "clean", "-m", "scorer", "--data", str(tmp_path), *args)
    assert r.code == 2
    assert says in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert Scorer.loads == 0


def test_info_lists_eval_options(scorer, cli):
    r = cli("info", "scorer")
    assert r.code == 0, r.err
    assert "options for genedit eval clean:" in r.out and "--levels" in r.out and "--repeats" in r.out


def test_eval_options_for_an_unknown_task_are_refused_on_registration():
    with pytest.raises(ValueError, match="eval_options"):
        ModelCard(name="bad", tasks=("clean",), family="t", summary="s", eval_options={"dirty": (LEVELS,)})
