"""Every card every installed plugin registers comes out of ``genedit list --json`` in the schema
tests/test_cli_basics.py checks on toy cards: the same keys, typed values, options of declared
tasks, variant sources the core can resolve, and no name twice.

An integration test (tests/integration/): the point is the real cards of all in-tree plugins
together, as a user's ``genedit list`` shows them.
"""

from __future__ import annotations

import json

from test_cli_basics import CARD_KEYS, OPTION_KEYS, VARIANT_KEYS


def test_every_installed_card_matches_the_list_schema(cli):
    result = cli("list", "--json")
    assert result.code == 0, result
    cards = json.loads(result.out)
    assert len({c["plugin"] for c in cards}) >= 4  # the in-tree plugins are installed here
    for card in cards:
        assert set(card) == CARD_KEYS, card["name"]
        assert isinstance(card["name"], str) and card["name"]
        assert isinstance(card["tasks"], list) and all(isinstance(t, str) for t in card["tasks"])
        assert all(isinstance(s, int) for s in card["scales"])
        for task, options in card["options"].items():
            assert task in card["tasks"] and all(set(o) == OPTION_KEYS for o in options), card["name"]
        assert isinstance(card["needs_weights"], bool)
        assert card["plugin"], f"{card['name']} has no plugin recorded"
        names = [v["name"] for v in card["variants"]]
        assert card["default_variant"] is None or card["default_variant"] in names
        for variant in card["variants"]:
            assert set(variant) == VARIANT_KEYS
            sources = ("hf://", "bundled in ", "installed distribution ")  # WeightVariant.source
            assert variant["source"].startswith(sources), (card["name"], variant["name"])
            for scale, f in variant["files"].items():
                assert scale.isdigit() and set(f) == {"filename", "sha256"}
    names = [c["name"] for c in cards]
    assert len(names) == len(set(names))
