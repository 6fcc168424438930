"""The one budget parser of every command and script: ``"4/255"``, ``"0.0157"``, ``"1/64"``.

Budgets (``eps``, step sizes) are in ``[0, 1]`` pixel units everywhere in shapebias; on a
command line they are usually written as a fraction of 255. :func:`parse_budget` reads
any exact fraction or decimal and :func:`format_budget` writes a float back the way a
user would type it (``k/255`` where it is one).
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["BUDGET_PATTERN", "format_budget", "parse_budget"]

# A budget inside a longer text (a JSON list on the command line): ``4/255``, ``0.5/255``.
BUDGET_PATTERN = re.compile(r"(\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)")


def parse_budget(text: str, name: str | None = None) -> float:
    """A budget written as ``4/255``, ``0.0157`` or ``1/64``, as a float in pixel units.

    ``4/255`` is read as ``4 / 255`` exactly as Python computes it, so a budget parsed
    here equals the same budget written as ``4 / 255`` in code.

    Args:
        text: the budget as typed.
        name: the option it came from, named in the error (``None``: the caller names it,
            as argparse does for an argument type).

    Returns:
        The budget as a float.

    Raises:
        ValueError: ``text`` is not a number or a fraction, or divides by zero.

    Example:
        >>> parse_budget("4/255") == 4 / 255
        True
        >>> parse_budget("0.25")
        0.25
    """
    cleaned = text.strip()
    match = BUDGET_PATTERN.fullmatch(cleaned)
    try:
        if match is not None:
            return float(match.group(1)) / float(match.group(2))
        return float(Fraction(cleaned))
    except (ValueError, ZeroDivisionError):
        prefix = "" if name is None else f"{name}: "
        raise ValueError(
            f"{prefix}expected a number such as 4/255, got {text!r} (budgets are pixel units "
            "in [0, 1]: 4/255 = 0.0157)."
        ) from None


def format_budget(value: float) -> str:
    """``value`` as ``k/255`` when it is one (``0.0157 -> '4/255'``), else ``6g`` digits.

    Example:
        >>> format_budget(4 / 255), format_budget(0.25)
        ('4/255', '0.25')
    """
    steps = value * 255
    if 0 < value < 1 and steps >= 0.5 and abs(steps - round(steps)) < 1e-6:
        return f"{round(steps)}/255"
    return f"{value:.6g}"
