"""``Option(image=True)``: a str option whose value is an image path, so front ends can take an upload."""

from __future__ import annotations

import pytest

from genedit_core.options import Option, check_params


def test_an_image_option_is_a_str_option_that_says_so():
    mask = Option("mask", str, None, "mask image", image=True)
    assert mask.image and not Option("mask").image
    assert check_params({"mask": "holes.png"}, (mask,), "toy") == {"mask": "holes.png"}  # a path, as before


@pytest.mark.parametrize("kind", [int, float, bool])
def test_only_a_str_option_can_be_an_image(kind):
    with pytest.raises(TypeError, match="image=True needs type str"):
        Option("mask", kind, image=True)
