"""One spelling per experimental condition, shared by the raw-trial reader and the benchmark."""

from __future__ import annotations

import math

__all__ = ["condition_key"]


def condition_key(condition: str) -> str:
    """A condition's canonical text, so that equal conditions compare equal.

    The same condition is spelt differently across files and tools (``0.90`` and ``0.9``,
    ``1`` and ``1.0``, ``true`` and ``True``): numbers become their shortest float text,
    booleans ``true``/``false``, missing values (``NaN``, empty) the empty string; any
    other text is kept, lower-cased.

    Example:
        >>> from shapebias.data import condition_key
        >>> condition_key("0.90"), condition_key("inf"), condition_key("True"), condition_key("NaN")
        ('0.9', 'inf', 'true', '')
    """
    text = condition.strip().lower()
    try:
        number = float(text)
    except ValueError:
        return text
    return "" if math.isnan(number) else repr(number)
