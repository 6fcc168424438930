"""A Fourier heat map as a picture (matplotlib, the optional ``plot`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shapebias._matplotlib import colormap, matplotlib_module
from shapebias._validation import check_bool, check_choice
from shapebias.frequency._heat_map import FourierHeatMap

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_fourier_heat_map"]

_LABELS = {"error": "error rate", "relative": "relative accuracy"}


def plot_fourier_heat_map(
    result: FourierHeatMap,
    ax: Axes | None = None,
    *,
    quantity: str = "error",
    cmap: str = "viridis",
    colorbar: bool = True,
    title: str | None = None,
) -> Axes:
    """Draw a :class:`FourierHeatMap` with its frequencies on the axes.

    The colour scale is fixed to ``[0, 1]`` so that maps of several models compare by
    eye. Ticks are the centred frequencies in cycles per image: DC in the middle,
    vertical frequency ``i`` downwards, horizontal frequency ``j`` to the right.

    Args:
        result: what :func:`fourier_heat_map` returned.
        ax: draw into these axes; by default into a new standalone
            :class:`matplotlib.figure.Figure` (``ax.figure``).
        quantity: ``"error"`` (the heat map of Yin et al.) or ``"relative"`` (relative
            accuracy).
        cmap: a matplotlib colormap name.
        colorbar: add a colour bar beside the axes.
        title: the axes title; by default the quantity and ``eps``.

    Returns:
        The axes drawn into.

    Raises:
        ImportError: matplotlib is missing (``pip install "shapebias[plot]"``).
        TypeError: ``result`` is not a :class:`FourierHeatMap`, ``colorbar`` not a ``bool``.
        ValueError: an unknown ``quantity`` or ``cmap``.

    Example:
        >>> import torch
        >>> from shapebias.frequency import fourier_heat_map, plot_fourier_heat_map
        >>> from shapebias.models import small_cnn
        >>> data = (torch.rand(4, 3, 8, 8), torch.randint(0, 3, (4,)))
        >>> result = fourier_heat_map(small_cnn(3), data, eps=1.0, progress=False)
        >>> ax = plot_fourier_heat_map(result)
        >>> ax.get_xlabel()
        'horizontal frequency j (cycles / image)'
    """
    if not isinstance(result, FourierHeatMap):
        raise TypeError(
            "result must be the FourierHeatMap that fourier_heat_map returned, got "
            f"{type(result).__name__}."
        )
    check_choice(quantity, "quantity", tuple(_LABELS))
    palette = colormap(cmap)
    check_bool(colorbar, "colorbar")
    if ax is None:
        ax = matplotlib_module("matplotlib.figure").Figure(figsize=(4.2, 3.6)).add_subplot()
    values = result.error if quantity == "error" else result.relative
    rows, cols = result.vertical_frequencies, result.horizontal_frequencies
    extent = (
        float(cols[0]) - 0.5,
        float(cols[-1]) + 0.5,
        float(rows[-1]) + 0.5,
        float(rows[0]) - 0.5,
    )
    image = ax.imshow(values.numpy(), cmap=palette, vmin=0.0, vmax=1.0, extent=extent)
    ax.set_xlabel("horizontal frequency j (cycles / image)")
    ax.set_ylabel("vertical frequency i")
    ax.set_title(title if title is not None else f"{_LABELS[quantity]}, eps = {result.eps:g}")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=_LABELS[quantity])
    return ax
