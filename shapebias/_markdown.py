"""Markdown tables: the one renderer of every result table (metrics, experiments, cards)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["markdown_table"]


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table, first column left-aligned, the rest right-aligned.

    Example:
        >>> print(markdown_table(["model", "accuracy"], [["standard", "91.0"]]))
        | model | accuracy |
        | :--- | ---: |
        | standard | 91.0 |
    """
    lines = [list(header), [":---"] + ["---:"] * (len(header) - 1), *map(list, rows)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)
