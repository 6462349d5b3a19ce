"""benchmarks/adversarial_report.py: it runs the classes it is asked for and its measurements can fail.

The full report takes minutes and is run by hand (docs/security.md keeps its table). Here it runs
one attack of a few cheap classes, and its JSON must hold every class asked for, every count and
no traceback. A control attack that does escape its folder, change a file that was there before
and leave a temporary file shows that each count can see what it counts.

An integration test (tests/integration/): the report attacks genedit as installed, real plugins
and models (bicubic, ESPCN, ...) included, since that is what users run.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "adversarial_report.py"
CLASSES = ["markup", "upfront", "collisions", "plugins"]


@functools.cache
def _report_module():
    spec = importlib.util.spec_from_file_location("adversarial_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["adversarial_report"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_quick_report_runs_every_class_asked_and_shows_no_traceback():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--classes", ",".join(CLASSES), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    counts = ["tracebacks", "unexpected", "wrong_exit", "wrong_lines", "partial", "lost", "escapes"]
    counts.append("wrong_results")
    assert list(report["classes"]) == CLASSES
    for name, row in report["classes"].items():
        assert row["attacks"] == 1 and row["steps"] >= 1, (name, row)
        assert set(counts) <= set(row)
    assert [a["cls"] for a in report["attacks"]] == CLASSES
    for item in report["attacks"]:
        assert set(item["counts"]) == set(counts)
        for step in item["steps"]:
            assert {"args", "expect", "got", "errors", "traceback", "peak_mb"} <= set(step)
            assert step["got"] is not None, item  # every genedit run ended by itself
    assert report["totals"]["attacks"] == len(CLASSES)
    assert report["totals"]["tracebacks"] == 0, report["attacks"]
    assert report["ok"] == (proc.returncode == 0) == (not any(report["totals"][k] for k in counts))
    assert {"date", "command", "versions", "cpu", "seconds"} <= set(report)
    assert "torch" in report["versions"] and " cores; flags: " in report["cpu"]


def test_unknown_class_is_refused():
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--classes", "bombs,nonsense", "--list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "nonsense" in proc.stderr


def test_every_class_has_at_least_two_attacks():
    report = _report_module()
    per_class = {c: sum(a.cls == c for a in report.CATALOGUE) for c in report.CLASSES}
    assert len(per_class) == 13 and min(per_class.values()) >= 2, per_class


def test_the_counts_see_an_escape_a_changed_file_a_temporary_and_a_wrong_exit(tmp_path):
    """A control that does everything the report looks for; each count must be non-zero."""
    report = _report_module()

    def control(ctx):
        report.png(ctx.work / "a.png")
        (ctx.work / "o").mkdir()
        (ctx.work / "o" / "a_bicubic_x2.png").write_bytes(b"was here before")

        def leave_a_temporary() -> None:
            (ctx.work / ".a.png.genedit-1.abcdefgh.part").write_bytes(b"half")

        ctx.forbid("o2/*")
        ctx.check(lambda: ["a result the class promised was not there"])
        return [
            # writes into the sentinel folder beside the work folder: an escape
            report.Step(("run", "upscale", "-m", "bicubic", "a.png", "--out-dir", "../outside/x", "-q"), 0),
            # replaces a file that existed before (lost), promised to fail (wrong exit)
            report.Step(
                ("run", "upscale", "-m", "bicubic", "a.png", "--out-dir", "o", "--overwrite", "-q"),
                1,
                errors=1,
                before=leave_a_temporary,
            ),
            # an output for an input the attack says failed
            report.Step(("run", "upscale", "-m", "bicubic", "a.png", "--out-dir", "o2", "-q"), 0),
        ]

    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "sitecustomize.py").write_text(textwrap.dedent(report.SITECUSTOMIZE))
    result = report.run_attack(report.Attack("outputs", "control", control), tmp_path, audit, keep=False)

    counts = result.counts()
    assert counts["escapes"] >= 1 and any("/outside/x/" in e for e in result.escapes), result.escapes
    assert result.lost == ["o/a_bicubic_x2.png (changed)"]
    assert sorted(result.partial) == [
        ".a.png.genedit-1.abcdefgh.part",
        "o2/a_bicubic_x2.png (output of a failed input)",
    ]
    assert counts["wrong_exit"] == 1 and counts["wrong_lines"] == 1
    assert counts["wrong_results"] == 1 and counts["tracebacks"] == 0
    assert [s.got for s in result.steps] == [0, 0, 0]


@pytest.mark.parametrize(
    "name", ["x.part", ".a.png.genedit-12.ab_cd.part", ".step-000008.x1y2z3", "b.incomplete"]
)
def test_temporary_names(name):
    assert _report_module().TEMP_NAME.search(name)


@pytest.mark.parametrize("name", ["a.png", "partial.png", ".hidden", "step-000008"])
def test_names_that_are_not_temporary(name):
    assert not _report_module().TEMP_NAME.search(name)
