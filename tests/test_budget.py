"""The one budget parser: fractions of 255 read exactly as Python writes them."""

from __future__ import annotations

import pytest

from shapebias._budget import format_budget, parse_budget


@pytest.mark.parametrize("k", [1, 2, 4, 8, 16])
def test_k_over_255_is_the_float_python_computes(k):
    assert parse_budget(f"{k}/255") == k / 255  # bit for bit, as in code
    assert format_budget(k / 255) == f"{k}/255"


def test_decimals_and_other_fractions():
    assert parse_budget("0.25") == 0.25 and parse_budget(" 1/64 ") == 1 / 64
    assert parse_budget("0.5/255") == 0.5 / 255
    assert format_budget(0.25) == "0.25"


@pytest.mark.parametrize("text", ["4//255", "x", "4/0", ""])
def test_bad_budgets_name_the_option(text):
    with pytest.raises(ValueError, match=rf"--eps: expected a number such as 4/255, got {text!r}"):
        parse_budget(text, "--eps")
