"""Every card every installed plugin registers comes out of ``genedit list --json`` in the schema
tests/test_cli_basics.py checks on toy cards: the same keys, typed values, options of declared
tasks, variant sources the core can resolve, and no name twice.

An integration test (tests/integration/): the point is the real cards of all in-tree plugins
together, as a user's ``genedit list`` shows them.
"""

from __future__ import annotations

import json

from test_cli_basics import check_list_schema


def test_every_installed_card_matches_the_list_schema(cli):
    result = cli("list", "--json")
    assert result.code == 0, result
    cards = json.loads(result.out)
    assert len({c["plugin"] for c in cards}) >= 4  # the in-tree plugins are installed here
    # WeightVariant.source: a hub file, a file bundled in a distribution, or a distribution itself
    check_list_schema(cards, ("hf://", "bundled in ", "installed distribution "))
