"""Figures of the model-vs-human benchmark (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from shapebias._matplotlib import matplotlib_module
from shapebias.metrics._human_benchmark import HUMAN_ROW, HumanBenchmark

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_consistency", "plot_shape_bias_per_category"]

_HUMAN_COLOUR = "#d62728"
_MODEL_COLOURS = (0, 1, 2, 4, 5, 6, 7, 8, 9)  # tab10 without its red, the humans' colour
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _check(result: Any) -> HumanBenchmark:
    if not isinstance(result, HumanBenchmark):
        raise TypeError(
            "result must be the HumanBenchmark that human_benchmark returned, got "
            f"{type(result).__name__}."
        )
    return result


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        return matplotlib_module("matplotlib.figure").Figure(figsize=size).add_subplot()
    return ax


def _styles(names: list[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) per decision-maker: the humans red diamonds, models the tab10 cycle."""
    palette = matplotlib_module("matplotlib").colormaps["tab10"]
    styles, k = {}, 0
    for name in names:
        if name == HUMAN_ROW:
            styles[name] = (_HUMAN_COLOUR, "D")
        else:
            styles[name] = (palette(_MODEL_COLOURS[k % 9]), _MARKERS[k % len(_MARKERS)])
            k += 1
    return styles


def plot_shape_bias_per_category(result: HumanBenchmark, ax: Axes | None = None) -> Axes:
    """Shape bias per category for the humans and each model (Geirhos et al. 2019, Fig. 4).

    One row per shape category (sorted by the humans' shape bias), the share of shape
    decisions on the top axis and of texture decisions on the bottom axis (one minus it);
    a marker per decision-maker and category, and a vertical line at each one's overall
    shape bias.

    Args:
        result: what :func:`human_benchmark` returned, with cue-conflict trials.
        ax: draw into these axes; by default into a new standalone figure.

    Returns:
        The axes drawn into.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
        TypeError: ``result`` is not a :class:`HumanBenchmark`.
        ValueError: ``result`` has no shape bias (no cue-conflict trials).

    Example:
        >>> from shapebias.metrics import plot_shape_bias_per_category
        >>> ax = plot_shape_bias_per_category(table)  # doctest: +SKIP
    """
    table = _check(result)
    rows = {n: r for n, r in table.rows.items() if r.shape_bias_per_category}
    if HUMAN_ROW not in rows:
        raise ValueError(
            "result must include cue-conflict trials of humans to plot the shape bias per "
            "category; its datasets are " + ", ".join(table.datasets) + "."
        )
    human = rows[HUMAN_ROW].shape_bias_per_category
    categories = sorted(human, key=lambda c: (-_value(human[c]), c))
    ax = _axes(ax, (5.0, 6.0))
    styles = _styles(list(rows))
    positions = {c: i for i, c in enumerate(categories)}
    for name, row in rows.items():
        colour, marker = styles[name]
        points = [(1 - v, positions[c]) for c, v in row.shape_bias_per_category.items()
                  if c in positions and not math.isnan(v)]  # fmt: skip
        ax.scatter([p[0] for p in points], [p[1] for p in points], color=colour, marker=marker,
                   label=name, zorder=3, edgecolors="0.3", linewidths=0.3)  # fmt: skip
        if not math.isnan(row.shape_bias):
            ax.axvline(1 - row.shape_bias, color=colour, linewidth=1.2, zorder=2)
    for i in range(len(categories) - 1):
        ax.axhline(i + 0.5, color="0.8", linestyle=":", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(len(categories) - 0.5, -0.5)
    ax.set_yticks(range(len(categories)), categories)
    ax.set_xlabel("fraction of 'texture' decisions")
    top = ax.secondary_xaxis("top", functions=(_flip, _flip))
    top.set_xlabel("fraction of 'shape' decisions")
    ax.legend(loc="lower left", bbox_to_anchor=(1.02, 0.0), frameon=False, fontsize="small")
    return ax


def plot_consistency(result: HumanBenchmark, ax: Axes | None = None) -> Axes:
    """Error consistency against accuracy difference, one marker per decision-maker and dataset.

    Each dataset is a small marker (the humans: mean over pairs of subjects), each
    decision-maker's mean over the benchmark datasets a large one. Human-like models sit
    top left: small accuracy difference, high error consistency.

    Args:
        result: what :func:`human_benchmark` returned.
        ax: draw into these axes; by default into a new standalone figure.

    Returns:
        The axes drawn into.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
        TypeError: ``result`` is not a :class:`HumanBenchmark`.

    Example:
        >>> from shapebias.metrics import plot_consistency
        >>> ax = plot_consistency(table)  # doctest: +SKIP
    """
    table = _check(result)
    ax = _axes(ax, (5.5, 4.2))
    styles = _styles(list(table.rows))
    for name, row in table.rows.items():
        colour, marker = styles[name]
        scores = list(row.datasets.values())
        ax.scatter([s.accuracy_difference for s in scores], [s.error_consistency for s in scores],
                   color=colour, marker=marker, s=14, alpha=0.6, linewidths=0)  # fmt: skip
        ax.scatter([row.accuracy_difference], [row.error_consistency], color=colour,
                   marker=marker, s=80, edgecolors="0.2", linewidths=0.6, label=name,
                   zorder=3)  # fmt: skip
    ax.axhline(0.0, color="0.6", linestyle="--", linewidth=0.8)
    ax.set_xlabel("accuracy difference (squared) ↓")
    ax.set_ylabel("error consistency (kappa) ↑")
    ax.set_title("per dataset (small) and mean (large)", fontsize="small")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize="small")
    return ax


def _flip(x: Any) -> Any:
    return 1 - x


def _value(number: float) -> float:
    return -1.0 if math.isnan(number) else number
