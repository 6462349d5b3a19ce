"""genedit-serve passes the plugin conformance check: light to import, only the public SDKs, no clashes.

It registers no models, so its cases are the import and names checks.
"""

from __future__ import annotations

import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases("serve"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
