"""Fixtures of the restoration plugin's tests: the plugin installed alone, the CLI in-process, photos."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from genedit_core.testing import plugins_installed, run_cli


@pytest.fixture
def restore_plugins():
    import genedit_restore.plugin as restore_plugin

    with plugins_installed(restore=restore_plugin) as p:
        yield p


@pytest.fixture
def cli(restore_plugins, capsys):
    """``cli(*argv) -> (exit code, stdout, stderr)`` of ``genedit`` run in this process."""
    return partial(run_cli, capsys)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 64×80 crop of scikit-image's astronaut (held-out photo), H×W×3 floats in 0-1."""
    from skimage import data

    return data.astronaut()[120:184, 180:260].astype(np.float64) / 255.0
