"""Fixtures of the face swap plugin's tests: the plugin installed alone, the CLI in-process, photos."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from genedit_core.testing import plugins_installed, run_cli


@pytest.fixture
def faceswap_plugins():
    import genedit_faceswap.plugin as faceswap_plugin

    with plugins_installed(faceswap=faceswap_plugin) as p:
        yield p


@pytest.fixture
def cli(faceswap_plugins, capsys):
    """``cli(*argv) -> (exit code, stdout, stderr)`` of ``genedit`` run in this process."""
    return partial(run_cli, capsys)


@pytest.fixture(scope="session")
def astronaut_png(tmp_path_factory) -> str:
    """skimage's public-domain astronaut photograph (512x512, one face), as a PNG file."""
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return str(path)


@pytest.fixture(scope="session")
def flat_png(tmp_path_factory) -> str:
    """A grey picture with no face in it."""
    from PIL import Image

    path = tmp_path_factory.mktemp("photos") / "flat.png"
    Image.fromarray(np.full((90, 120, 3), 128, np.uint8)).save(path)
    return str(path)


@pytest.fixture(scope="session")
def astronaut_256_png(tmp_path_factory) -> str:
    """The astronaut at 256x256 (detection is four times cheaper; the face is about 46 px wide)."""
    from PIL import Image
    from skimage import data

    path = tmp_path_factory.mktemp("photos") / "astronaut256.png"
    Image.fromarray(data.astronaut()).resize((256, 256), Image.LANCZOS).save(path)
    return str(path)


@pytest.fixture(scope="session")
def astronaut_256(astronaut_256_png):
    """The same picture as a 1x3x256x256 float tensor in 0-1."""
    import torch
    from PIL import Image

    with Image.open(astronaut_256_png) as im:
        return torch.from_numpy(np.array(im)).permute(2, 0, 1)[None].float() / 255
