"""Rendering shared by the result tables: percentages with intervals, Markdown tables."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from shapebias._markdown import markdown_table
from shapebias._validation import check_bool
from shapebias.metrics._bootstrap import Estimate

__all__ = ["MISSING", "check_results", "format_estimate", "markdown_table"]

MISSING = "-"


def format_estimate(value: Estimate, *, digits: int = 1, intervals: bool = True) -> str:
    """``"72.5 [70.1, 74.8]"``: a fraction shown in percent with its interval.

    NaN (undefined) shows as ``"-"``; a missing interval is left out.

    Example:
        >>> from shapebias.metrics import Estimate, format_estimate
        >>> format_estimate(Estimate(0.725, 0.701, 0.748))
        '72.5 [70.1, 74.8]'
    """
    check_bool(intervals, "intervals")
    if math.isnan(value.value):
        return MISSING
    text = f"{100 * value.value:.{digits}f}"
    if intervals and not math.isnan(value.low):
        text += f" [{100 * value.low:.{digits}f}, {100 * value.high:.{digits}f}]"
    return text


def check_results(results: Any, kind: type, maker: str) -> Mapping[str, Any]:
    if not isinstance(results, Mapping) or not results:
        raise TypeError(
            f"results must be a non-empty dict mapping model names to {kind.__name__} "
            f"results, got {type(results).__name__}. Example: "
            f'{{"standard": {maker}(...), "pgd8": {maker}(...)}}.'
        )
    for name, result in results.items():
        if not isinstance(result, kind):
            raise TypeError(
                f"results[{name!r}] must be a {kind.__name__} (from {maker}), "
                f"got {type(result).__name__}."
            )
    return results
