"""``Option(multiple=True)``: a repeatable option (``--hint A --hint B``) whose value is a tuple."""

from __future__ import annotations

import pytest
from genedit_cli.params import parse_extras, split_inputs_and_extras

from genedit_core.errors import UsageError
from genedit_core.options import Option, check_params

HINT = Option("hint", str, None, "a hint", multiple=True)
SIZE = Option("size", int, None, "a size", low=1, high=9, multiple=True)


def test_the_command_line_collects_a_repeated_key_in_order():
    assert parse_extras(["--hint", "a", "--steps", "3", "--hint", "b", "--hint=c"]) == {
        "hint": ["a", "b", "c"],
        "steps": "3",
    }
    inputs, params = split_inputs_and_extras(["in.png", "--hint", "1,2,#ff0000", "--hint", "3,4,#00ff00"])
    assert inputs == ["in.png"] and params == {"hint": ["1,2,#ff0000", "3,4,#00ff00"]}


def test_a_multiple_option_is_a_tuple_of_parsed_values_given_once_or_many_times():
    assert check_params({"hint": "a"}, (HINT,), "toy") == {"hint": ("a",)}
    assert check_params({"hint": ["a", "b"]}, (HINT,), "toy") == {"hint": ("a", "b")}
    assert check_params({"size": ["2", "9"]}, (SIZE,), "toy") == {"size": (2, 9)}
    with pytest.raises(UsageError, match="--size 10: expected a value from 1 to 9"):
        check_params({"size": ["2", "10"]}, (SIZE,), "toy")


def test_an_option_that_is_not_multiple_refuses_to_be_given_twice():
    steps = Option("steps", int, 1, "steps")
    with pytest.raises(UsageError, match="--steps is given 2 times; it takes one value"):
        check_params({"steps": ["1", "2"]}, (steps,), "toy")
    assert check_params({"steps": "2"}, (steps,), "toy") == {"steps": 2}


def test_help_says_repeatable_and_flags_or_images_cannot_repeat():
    assert "repeatable" in HINT.describe() and "repeatable" not in Option("hint").describe()
    with pytest.raises(TypeError, match="multiple=True"):
        Option("mask", str, image=True, multiple=True)
    with pytest.raises(TypeError, match="multiple=True"):
        Option("fast", bool, multiple=True)
