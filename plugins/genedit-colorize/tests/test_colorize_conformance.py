"""genedit's conformance check on every card of genedit-colorize.

It checks what genedit relies on: the hooks module imports no torch, names clash with no other
installed plugin, tiny random weights load through genedit_core.load and every task returns float
images in 0-1 of the right shape. Run it with the package installed (pip install -e .).
"""

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("colorize"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
