"""genedit-inductor passes the plugin conformance kit's checks that apply to a backend.

It is a ``genedit.backends`` entry point and registers no models, so its cases are the import
check (no torch at import) and the public-SDK check (only ``genedit_core.sdk`` and the test kit).
"""

from __future__ import annotations

import genedit_inductor.backend as backend
import pytest

from genedit_core.testing import conformance_cases


@pytest.mark.parametrize("case", conformance_cases(backend, name="torch-compile"))
def test_conformance(case, genedit_conformance):
    genedit_conformance(case)
