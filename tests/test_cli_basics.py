"""The light commands: --version, list, info, plugins, over toy plugins: an upscaler with Hub and
bundled weights and an alias, a weightless resize at three scales, and a generator with an option.
(That every real card serialises to this schema is tests/integration/test_real_cards.py.)"""

from __future__ import annotations

import json

import pytest
from inline_plugin import CardsPlugin
from toy_plugin import ResizePlugin, ToyPlugin, bundled_variant, hub_variant, toy_card

import genedit_core
from genedit_core.cards import ModelCard
from genedit_core.options import Option

CARD_KEYS = {
    "name", "aliases", "tasks", "family", "plugin", "summary", "scales", "licence", "needs_weights",
    "default_variant", "bf16_safe", "fp16_safe", "paper", "variants", "default_scale", "any_scale",
    "colour_tasks", "group_tasks", "options", "eval_options", "tiled_forward",
}  # fmt: skip
OPTION_KEYS = {"name", "flag", "type", "default", "choices", "low", "high", "help"}
VARIANT_KEYS = {"name", "source", "hf_hub_id", "revision", "files", "config", "licence", "description"}

TOYGEN = ModelCard(
    name="toygen",
    tasks=("generate",),
    family="toy",
    summary="a generator that is only a card (tests only)",
    needs_weights=False,
    options={"generate": (Option("truncation", float, 1.0, "how far from the mean", low=0.0, high=1.0),)},
)


@pytest.fixture(autouse=True)
def toys(install):
    toy = toy_card(hub_variant(), bundled_variant("genedit_toy_bundle"), aliases=("nn-x2",))
    return install(ToyPlugin(toy), ResizePlugin(), CardsPlugin(TOYGEN, name="toygen"))


def test_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == f"genedit {genedit_core.__version__}"


def test_no_arguments_shows_help(cli):
    result = cli()
    assert result.code == 2  # click's convention for "no command given"
    text = result.out + result.err
    assert "Usage: " in text and " list " in text and " run " in text
    assert "Traceback" not in text


def check_list_schema(cards: list[dict], sources: tuple[str, ...] = ("hf://", "bundled in ")) -> list[str]:
    """Assert ``genedit list --json`` cards have the documented keys and types, options only of
    declared tasks, variant sources starting with one of ``sources``, and no name twice; the names.

    tests/integration/test_real_cards.py runs the same check on every installed plugin's cards."""
    for card in cards:
        assert set(card) == CARD_KEYS, card["name"]
        assert isinstance(card["name"], str) and card["name"]
        assert isinstance(card["tasks"], list) and all(isinstance(t, str) for t in card["tasks"])
        assert all(isinstance(s, int) for s in card["scales"])
        for task, options in [*card["options"].items(), *card["eval_options"].items()]:
            assert task in card["tasks"] and all(set(o) == OPTION_KEYS for o in options), card["name"]
        assert isinstance(card["needs_weights"], bool)
        assert card["plugin"], f"{card['name']} has no plugin recorded"
        names = [v["name"] for v in card["variants"]]
        assert card["default_variant"] is None or card["default_variant"] in names
        for variant in card["variants"]:
            assert set(variant) == VARIANT_KEYS
            assert variant["source"].startswith(sources), (card["name"], variant["name"])
            for scale, f in variant["files"].items():
                assert scale.isdigit() and set(f) == {"filename", "sha256"}
    names = [c["name"] for c in cards]
    assert len(names) == len(set(names))
    return names


def test_list_json_schema(cli):
    result = cli("list", "--json")
    assert result.code == 0, result
    cards = json.loads(result.out)
    assert isinstance(cards, list) and cards
    names = check_list_schema(cards)
    assert names == ["resize", "toy", "toygen"]
    by_name = {c["name"]: c for c in cards}
    assert by_name["resize"]["plugin"] == "toyresize" and by_name["resize"]["needs_weights"] is False
    assert by_name["resize"]["scales"] == [2, 3, 4]
    assert [o["name"] for o in by_name["toygen"]["options"]["generate"]] == ["truncation"]
    assert by_name["toy"]["default_variant"] == "hub" and len(by_name["toy"]["variants"]) == 2


def test_list_task_filter(cli):
    everything = json.loads(cli("list", "--json").out)
    upscale = json.loads(cli("list", "--task", "upscale", "--json").out)
    assert {c["name"] for c in upscale} == {c["name"] for c in everything if "upscale" in c["tasks"]}
    assert {c["name"] for c in upscale} == {"resize", "toy"}

    table = cli("list", "--task", "upscale")
    assert table.code == 0
    assert "resize" in table.out and "upscale x2,3,4" in table.out
    assert "toygen" not in table.out and "generate" not in table.out

    none = cli("list", "--task", "no-such-task")
    assert none.code == 0 and "No models installed for task 'no-such-task'." in none.out


def test_info_shows_the_card_and_its_variants(cli):
    result = cli("info", "toy")
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith("toy  (toy, plugin toy)")
    assert "  scales: 2" in lines and "  aliases: nn-x2" in lines
    assert any(line.strip().startswith("hub (default): hf://genedit-test/toy@main") for line in lines)
    assert "      x2: toy_x2.safetensors" in lines
    assert any(line.strip().startswith("bundled: bundled in genedit_toy_bundle") for line in lines)
    assert "  scales: 2, 3, 4" in cli("info", "resize").out.splitlines()


def test_info_json_and_alias(cli):
    by_alias = json.loads(cli("info", "nn-x2", "--json").out)
    assert by_alias["name"] == "toy"
    assert "nn-x2" in by_alias["aliases"]


def test_info_unknown_model(cli):
    result = cli("info", "nope")
    assert result.code == 2
    assert result.error_lines == ["error: Unknown model 'nope'. Run 'genedit list' to see installed models."]


def test_info_misspelt_model_suggests(cli):
    result = cli("info", "resiz")
    assert result.code == 2
    assert len(result.error_lines) == 1
    assert result.error_lines[0].startswith("error: Unknown model 'resiz'. Did you mean: resize")


def test_plugins_table_and_json(cli):
    table = cli("plugins")
    assert table.code == 0 and "toyresize" in table.out and "ok" in table.out
    infos = {p["name"]: p for p in json.loads(cli("plugins", "--json").out)}
    assert set(infos) == {"toy", "toyresize", "toygen"}
    resize = infos["toyresize"]
    assert resize["models"] == ["resize"] and resize["error"] is None
    assert {"register_models", "load_model", "edit"} <= set(resize["hooks"])
    assert infos["toygen"]["hooks"] == ["register_models"]


def test_click_usage_errors_exit_2(cli):
    missing = cli("run", "upscale")
    assert missing.code == 2
    assert "Missing option '--model'" in missing.err and "Traceback" not in missing.err
    unknown = cli("list", "--bogus")
    assert unknown.code == 2
    assert "No such option: --bogus" in unknown.err


@pytest.mark.parametrize("argv", [("generate", "toygen"), ("run", "generate", "-m", "toygen")])
def test_generate_under_torchrun_is_refused_before_any_work(cli, monkeypatch, argv):
    """run_batch splits inputs across torchrun's processes; generate does not split seeds, so each
    process would write every file: one line and exit 2 instead, nothing written."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    result = cli(*argv)
    assert result.code == 2, result
    assert result.err.strip().splitlines() == [
        "error: genedit generate runs in one process: its seeds are not split across torchrun's "
        "processes (start it without torchrun)"
    ]
    monkeypatch.delenv("WORLD_SIZE")
    alone = cli(*argv, "--truncation", "2")  # the same command alone gets past it, to the model's checks
    assert alone.code == 2 and "truncation" in alone.err and "one process" not in alone.err
