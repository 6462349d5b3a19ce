"""genedit's conformance check (genedit_core.testing) on every card of genedit-sr.

One case per check: the hooks module imports no torch, registration, typed options and no name
clash with another installed plugin, then per card tiny random weights from the tiny_weights hook
loaded through genedit_core.load and every task run once (float32, 0–1, right shape).
"""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("sr"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
