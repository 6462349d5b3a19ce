"""genedit's conformance check (genedit_core.testing) on genedit-compress.

genedit-compress registers methods and commands but no model cards, so its cases are the
plugin-wide ones: the hooks module imports no torch (genedit-compress's commands are registered at
every start), it registers on its own, every method declares typed options whose defaults fit
their types, and no method name clashes with another installed plugin's.
"""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("compress"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)


def test_compress_has_no_cards_to_check():
    assert [p.values[0].kind for p in conformance_cases("compress")] == ["import", "names"]
