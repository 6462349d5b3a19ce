"""XDoG line extraction: edges of a shape become dark lines, flat regions stay white, and the
options are checked before any work."""

import numpy as np
import pytest
import torch
from PIL import Image

from genedit_core.sdk import xdog


def square(grey: float = 0.3, size: int = 48) -> torch.Tensor:
    """A white image with a flat grey square in the middle (1×3×size×size)."""
    x = torch.ones(1, 3, size, size)
    x[..., 12:36, 12:36] = grey
    return x


def test_edges_are_dark_and_flat_regions_white():
    y = xdog(square())[0, 0]
    assert y.shape == (48, 48)
    # the square's border (just inside, where the DoG undershoots) is a dark line
    border = torch.cat([y[12:36, 12], y[12:36, 35], y[12, 12:36], y[35, 12:36]])
    assert float(border.max()) < 0.2
    # far from any edge: the white paper and the square's flat grey inside both stay white
    assert float(y[:4, :4].min()) == 1.0
    assert float(y[20:28, 20:28].min()) == 1.0


def test_flat_image_stays_white_and_blur_keeps_flat():
    flat = torch.full((1, 1, 20, 30), 0.4)
    assert float(xdog(flat).min()) == 1.0


def test_wider_sigma_gives_thicker_lines():
    thin = (xdog(square(), sigma=0.6) < 0.5).sum()
    thick = (xdog(square(), sigma=2.0) < 0.5).sum()
    assert thick > thin > 0


def test_bad_sigma_is_refused():
    with pytest.raises(ValueError, match="sigma"):
        xdog(square(), sigma=0.0)


def test_cli_lineart_writes_a_grey_drawing(cli, tmp_path):
    src, out = tmp_path / "shape.png", tmp_path / "lines.png"
    pix = (square()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    pix[..., 0] = np.where(pix[..., 0] < 255, 200, 255)  # a coloured square: the output is grey anyway
    Image.fromarray(pix).save(src)
    code, _, err = cli("run", "lineart", "-m", "xdog", str(src), "-o", str(out), "--sigma", "1.0")
    assert code == 0, err
    with Image.open(out) as im:
        assert im.mode == "L" and im.size == (48, 48)
        arr = np.asarray(im)
    assert arr[2, 2] == 255 and arr[24, 24] == 255 and arr[12:36, 12].max() < 80


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sigma", "0"], "--sigma"),
        (["--k", "abc"], "--k"),
        (["--epsilon", "5"], "--epsilon"),
        (["--tau", "0.9"], "--tau"),  # not an option: the valid ones are named
    ],
)
def test_cli_bad_options_are_one_line_exit_2(cli, tmp_path, args, needle):
    src = tmp_path / "shape.png"
    Image.fromarray((square()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(src)
    code, _, err = cli("run", "lineart", "-m", "xdog", str(src), "-o", str(tmp_path / "o.png"), *args)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()
