"""genedit-openvino passes the plugin conformance kit's checks that apply to a backend.

It is a ``genedit.backends`` entry point and registers no models, so its cases are the import
check (no torch or openvino at import: ``genedit list`` loads backends' entry points' names only)
and the public-SDK check (only ``genedit_core.sdk`` and the test kit from genedit itself).
"""

from __future__ import annotations

import genedit_openvino.backend as backend
import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases(backend, name="openvino"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
