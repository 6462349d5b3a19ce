"""The convert stage: Lab and Reinhard colour transfer, the feathered mask, pasting back through the
inverse transform, and ``genedit run convert -m faceswap`` on the astronaut and a faceless picture."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from genedit_faceswap.align import align
from genedit_faceswap.autoencoder import FaceSwapAE
from genedit_faceswap.convert import feather_mask, lab_to_rgb, paste, reinhard, rgb_to_lab
from PIL import Image
from safetensors.torch import save_file

FACE_256 = (88, 28, 134, 87)  # the astronaut's face box at 256x256 (MTCNN's, checked by eye)


def test_lab_matches_scikit_image_and_round_trips():
    from skimage.color import rgb2lab

    x = torch.rand(1, 3, 6, 7, generator=torch.Generator().manual_seed(0))
    ours = rgb_to_lab(x)[0].permute(1, 2, 0).numpy()
    assert np.abs(ours - rgb2lab(x[0].permute(1, 2, 0).numpy())).max() < 0.05
    assert torch.allclose(lab_to_rgb(rgb_to_lab(x)), x, atol=1e-4)


def test_reinhard_gives_the_reference_statistics_inside_the_mask():
    g = torch.Generator().manual_seed(1)
    source = 0.3 + 0.2 * torch.rand(1, 3, 16, 16, generator=g) * torch.tensor([1.0, 0.2, 0.2])[:, None, None]
    reference = 0.4 + 0.2 * torch.rand(1, 3, 16, 16, generator=g)
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    out = rgb_to_lab(reinhard(source, reference, mask))[..., 4:12, 4:12]
    ref = rgb_to_lab(reference)[..., 4:12, 4:12]
    assert torch.allclose(out.mean((2, 3)), ref.mean((2, 3)), atol=0.3)
    assert torch.allclose(
        out.std((2, 3), unbiased=False), ref.std((2, 3), unbiased=False), rtol=0.05, atol=0.1
    )


def test_feather_mask_is_one_on_the_face_and_zero_at_the_border():
    m = feather_mask(64, 0.25)[0, 0]
    assert m[32, 32] == 1 and m[36, 32] == 1
    border = torch.cat([m[0], m[-1], m[:, 0], m[:, -1]])
    assert (border == 0).all()
    assert ((m[32] > 0) & (m[32] < 1)).sum() >= 6  # a ramp on each side, not a step


def test_pasting_a_face_back_through_its_transform_restores_the_image(astronaut_256):
    image = astronaut_256
    landmarks = torch.tensor([[101.2, 50.1], [123.0, 51.1], [112.1, 63.7], [100.4, 70.1], [122.2, 70.4]])
    crop, matrix = align(image, landmarks, 64)
    mask = feather_mask(64, 0.25)
    out = paste(image, crop, mask, matrix)
    x1, y1, x2, y2 = FACE_256
    assert (out[..., y1:y2, x1:x2] - image[..., y1:y2, x1:x2]).abs().mean() < 0.02
    changed = (out != image).any(1)[0]
    ys, xs = torch.nonzero(changed, as_tuple=True)
    assert ys.min() > 10 and ys.max() < 120 and xs.min() > 60 and xs.max() < 165  # only around the face
    # A different face pasted in changes the face region, and only there.
    other = paste(image, torch.zeros_like(crop), mask, matrix)
    assert (other[..., 50:70, 100:120] < 0.05).all()
    assert torch.equal(other[..., :, :40], image[..., :, :40])


@pytest.fixture(scope="module")
def random_swapper(tmp_path_factory):
    """A random-weight faceswap network as a weights file, with the crop size beside it."""
    folder = tmp_path_factory.mktemp("swapper")
    torch.manual_seed(3)
    save_file(FaceSwapAE(width=4, code=8).state_dict(), str(folder / "model.safetensors"))
    (folder / "config.json").write_text(json.dumps({"size": 32}))
    return folder / "model.safetensors"


def _png(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.float64) / 255


def test_convert_swaps_in_place_and_colour_matching_brings_the_colours_back(
    cli, random_swapper, astronaut_256_png, tmp_path
):
    outs = {}
    for colour in ("reinhard", "none"):
        outs[colour] = tmp_path / f"{colour}.png"
        code, _, err = cli(
            "run", "convert", "-m", "faceswap", "--weights", str(random_swapper), astronaut_256_png,
            "--min-face", "30", "--colour", colour, "--blend", "feather", "-o", str(outs[colour]),
        )  # fmt: skip
        assert code == 0, err
    src = _png(astronaut_256_png)
    matched, raw = _png(outs["reinhard"]), _png(outs["none"])
    assert matched.shape == src.shape
    x1, y1, x2, y2 = FACE_256
    assert np.abs(raw[y1:y2, x1:x2] - src[y1:y2, x1:x2]).mean() > 0.05  # the face was replaced
    far = np.ones(src.shape[:2], bool)
    far[y1 - 25 : y2 + 25, x1 - 25 : x2 + 25] = False
    assert np.array_equal(matched[far], src[far]) and np.array_equal(raw[far], src[far])

    def lab_error(img: np.ndarray) -> float:
        lab = [
            rgb_to_lab(torch.from_numpy(a[y1 + 10 : y2 - 10, x1 + 8 : x2 - 8]).permute(2, 0, 1)[None].float())
            for a in (img, src)
        ]
        return float((lab[0].mean((2, 3)) - lab[1].mean((2, 3))).norm())

    assert lab_error(matched) < 0.5 * lab_error(raw)


def test_convert_passes_a_faceless_image_through_with_a_warning(cli, random_swapper, flat_png, tmp_path):
    code, _, err = cli(
        "run",
        "convert",
        "-m",
        "faceswap",
        "--weights",
        str(random_swapper),
        flat_png,
        "-o",
        str(tmp_path / "o.png"),
    )
    assert code == 0, err
    assert "warning: no face found; the image is written unchanged" in err
    assert np.array_equal(_png(tmp_path / "o.png"), _png(flat_png))


def test_every_swapped_output_is_marked_synthetic_with_the_run_that_made_it(
    cli, random_swapper, flat_png, tmp_path
):
    from genedit_core.images import read_provenance

    commands = {
        "convert": ("run", "convert", "-m", "faceswap"),
        "swap": ("run", "swap", "-m", "faceswap"),
        "faceswap-convert": ("faceswap", "convert", "--detector", "lbp", "-q"),
    }
    for name, command in commands.items():
        out = tmp_path / f"{name}.png"
        code, _, err = cli(*command, "--weights", str(random_swapper), flat_png, "-o", str(out))
        assert code == 0, err
        prov = read_provenance(out)
        assert prov["synthetic"] is True and prov["model"] == "faceswap"
        assert prov["task"] == ("swap" if name == "swap" else "convert")
        assert prov["run"]["weights"] == str(random_swapper) and len(prov["run"]["sha256"]) == 64
    assert read_provenance(tmp_path / "faceswap-convert.png")["params"]["detector"] == "lbp"
