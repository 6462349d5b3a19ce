"""genedit's conformance check (genedit_core.testing) on every card of genedit-restore: the hooks
module imports no torch, names clash with no other plugin, and every card loads (tiny random weights
for the networks, none for the classical methods) and runs each task once with float outputs in 0-1."""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("restore"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
