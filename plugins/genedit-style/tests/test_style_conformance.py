"""genedit's conformance check on every card of genedit-style (tiny random VGG, one stylize call)."""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("style"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
