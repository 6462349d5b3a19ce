"""Fixtures of the restoration plugin's tests: the plugin installed alone, the CLI in-process, photos."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def restore_plugins():
    import genedit_restore.plugin as restore_plugin

    from genedit_core.testing import plugins_installed

    with plugins_installed(restore=restore_plugin) as p:
        yield p


@pytest.fixture
def cli(restore_plugins, capsys):
    """``cli(*argv) -> (exit code, stdout, stderr)`` of ``genedit`` run in this process."""
    from genedit_cli.app import main

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main([*argv])
        captured = capsys.readouterr()
        code = exc.value.code
        return (code if isinstance(code, int) else (0 if code is None else 1)), captured.out, captured.err

    return run


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 64×80 crop of scikit-image's astronaut (held-out photo), H×W×3 floats in 0-1."""
    from skimage import data

    return data.astronaut()[120:184, 180:260].astype(np.float64) / 255.0
