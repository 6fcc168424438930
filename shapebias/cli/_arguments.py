"""Argument types shared by the sub-commands: budgets (the one budget parser) and lists."""

from __future__ import annotations

import argparse

from shapebias._budget import parse_budget

__all__ = ["budget", "floats", "number"]


def number(text: str) -> float:
    """An argparse type: a number written ``4/255`` or ``0.0157`` (its range checked later)."""
    try:
        return parse_budget(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def budget(text: str) -> float:
    """An argparse type: a budget in ``(0, 1]`` pixel units, written ``4/255`` or ``0.0157``."""
    value = number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(
            f"--eps values must be budgets in (0, 1] (pixel units), got {text!r}; "
            f"did you mean {text}/255?"
        )
    return value


def floats(text: str) -> list[float]:
    """An argparse type: comma-separated numbers such as ``0.485,0.456,0.406``."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers such as 0.485,0.456,0.406, got {text!r}"
        ) from error
