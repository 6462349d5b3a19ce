"""genedit's conformance check on every card of genedit-gan (what it checks, and why: genedit_core.testing)."""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("gan"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
