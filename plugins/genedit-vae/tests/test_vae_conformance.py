"""genedit's conformance check on every card of genedit-vae (what it checks, and why: genedit_core.testing)."""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("vae"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
