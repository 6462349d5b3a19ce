"""What reaches stderr: genedit's own warnings always, third-party noise only with --verbose, progress.

The noisy plugin below makes the same calls the real sources make: torch's exporter logs through
torch's own handler, onnxruntime calls ``logging.warning`` on the root logger, torch's deprecations
are ``FutureWarning``s attributed to files inside ``site-packages/torch``.
"""

from __future__ import annotations

import io
import re

import pytest
from helpers import run_cli, write_distribution

NOISY = """
import logging
import warnings

from genedit_core import hookimpl


@hookimpl
def register_commands(app):
    @app.command("noisy")
    def noisy(torch_too: bool = False):
        from genedit_core.api import GeneditWarning

        warnings.warn_explicit(
            "LeafSpec is deprecated", FutureWarning, "/env/lib/python3.11/site-packages/torch/utils/_pytree.py", 1
        )
        logging.warning("Please consider to run pre-processing before quantization.")
        warnings.warn("bundled weights ran instead of the Hub ones", GeneditWarning)
        logging.getLogger("genedit").warning("stopping at step 3: train.max_minutes reached")
        if torch_too:
            import torch  # noqa: F401  (installs torch's own log handlers)

            logging.getLogger("torch.onnx._internal.exporter._registration").warning(
                "torchvision is not installed. Skipping %s", "torchvision::nms"
            )
        print("done")
"""

THIRD_PARTY = ("LeafSpec is deprecated", "pre-processing before quantization", "torchvision is not installed")
OWN = ("warning: bundled weights ran instead of the Hub ones", "warning: stopping at step 3")


@pytest.fixture
def noisy_env(tmp_path):
    site = write_distribution(
        tmp_path, "genedit-noisy", "0.1", {"noisy": "genedit_noisy"}, {"genedit_noisy": NOISY}
    )
    return {"PYTHONPATH": str(site)}


def test_third_party_noise_is_hidden_and_ours_is_kept(noisy_env):
    result = run_cli("noisy", "--torch-too", env=noisy_env)
    assert result.returncode == 0 and "done" in result.stdout, result.stderr
    for line in OWN:
        assert line in result.stderr
    for text in THIRD_PARTY:
        assert text not in result.stderr, result.stderr


@pytest.mark.parametrize("how", ["--verbose", "GENEDIT_VERBOSE"])
def test_verbose_shows_third_party_lines_labelled_with_their_origin(noisy_env, how):
    env = dict(noisy_env)
    args = ["noisy", "--torch-too"]
    if how == "--verbose":
        args.insert(0, "--verbose")
    else:
        env["GENEDIT_VERBOSE"] = "1"
        # as inherited from a quiet genedit parent process: taken back for a verbose run
        env.update({"TORCH_LOGS": "-torch", "GENEDIT_SET_TORCH_LOGS": "1"})
    result = run_cli(*args, env=env)
    assert result.returncode == 0, result.stderr
    for line in OWN:
        assert line in result.stderr
    lines = result.stderr.splitlines()
    # never relabelled as ours: each third-party line names where it came from
    assert "torch FutureWarning: LeafSpec is deprecated" in lines
    assert "root warning: Please consider to run pre-processing before quantization." in lines
    assert any("torchvision is not installed. Skipping torchvision::nms" in ln for ln in lines)
    assert not any(ln.startswith("warning:") and any(t in ln for t in THIRD_PARTY) for ln in lines)


def test_phase_progress_on_a_terminal(monkeypatch):
    """On a terminal each phase is a line that ends ticked, with its count; nothing goes to stdout."""
    from genedit_cli import console
    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr(
        console, "err", Console(file=buffer, force_terminal=True, width=100, color_system=None)
    )
    with console.PhaseProgress("optimize") as progress:
        progress("load espcn")
        progress("fine-tune", 0, 3)
        for step in (1, 2, 3):
            progress("fine-tune", step, 3)
        progress("write results")
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue().rsplit("\r", 1)[-1])  # last redraw
    for phase in ("load espcn", "fine-tune", "write results"):
        assert any(ln.lstrip().startswith("✓ " + phase) for ln in final.splitlines()), final
    assert "3/3" in final


def test_phase_progress_in_a_log(monkeypatch):
    """Not a terminal: a line when a phase starts and at each quarter of a counted phase."""
    from genedit_cli import console
    from rich.console import Console

    buffer = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=buffer, force_terminal=False, width=100))
    with console.PhaseProgress("bench") as progress:
        progress("warm-up", 0, 8)
        for i in range(1, 9):
            progress("warm-up", i, 8)
        progress("peak memory")
    assert buffer.getvalue().splitlines() == [
        "bench: warm-up (8)",
        "bench: warm-up 2/8",
        "bench: warm-up 4/8",
        "bench: warm-up 6/8",
        "bench: warm-up 8/8",
        "bench: peak memory",
    ]
    quiet = io.StringIO()
    monkeypatch.setattr(console, "err", Console(file=quiet, force_terminal=False))
    with console.PhaseProgress("bench", enabled=False) as progress:
        progress("warm-up", 1, 2)
    assert quiet.getvalue() == ""
