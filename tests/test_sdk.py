"""genedit_core.sdk is the plugin surface: light to import, complete, and what docs/plugins.md documents.

Why: plugins are released on their own schedule, so the names they import are a promise. The
promise is ``sdk.__all__``; these tests keep it importable without torch (plugin entry points are
imported by ``genedit list``), keep every name resolvable, and keep the plugin guide in step.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import genedit_core.sdk as sdk

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "plugins.md"


def test_importing_the_sdk_costs_no_torch_and_every_name_resolves():
    code = (
        "import sys, genedit_core.sdk as s\n"
        "heavy = [m for m in ('torch', 'numpy', 'huggingface_hub') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "missing = [n for n in s.__all__ if getattr(s, n, None) is None]\n"
        "assert not missing, missing\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_star_import_gives_exactly_the_promised_names():
    names: dict[str, object] = {}
    exec("from genedit_core.sdk import *", names)
    assert sorted(n for n in names if n != "__builtins__") == sorted(sdk.__all__)
    assert len(set(sdk.__all__)) == len(sdk.__all__)
    assert sorted(dir(sdk)) == sorted(sdk.__all__)


def test_an_unknown_name_points_at_all():
    try:
        sdk.LoadModel  # noqa: B018
    except AttributeError as exc:
        assert "LoadModel" in str(exc) and "__all__" in str(exc)
    else:
        raise AssertionError("sdk.LoadModel should not exist")


def test_the_plugin_guide_documents_every_name_and_uses_no_other():
    text = GUIDE.read_text(encoding="utf-8")
    undocumented = [n for n in sdk.__all__ if f"`{n}`" not in text]
    assert not undocumented, f"docs/plugins.md does not name: {undocumented}"
    # Code in the guide imports the core only through the SDK (and the test kit).
    imports = re.findall(r"^\s*(?:from|import) (genedit_core[\w.]*)", text, re.M)
    assert imports, "the guide shows no imports"
    assert set(imports) <= {"genedit_core.sdk", "genedit_core.testing"}, sorted(set(imports))
