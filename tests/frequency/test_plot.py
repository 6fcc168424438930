"""plot_fourier_heat_map draws the map it is given, with frequencies on the axes."""

from __future__ import annotations

import sys

import matplotlib.figure
import numpy as np
import pytest
import torch

from shapebias.frequency import FourierHeatMap, plot_fourier_heat_map


def small_result() -> FourierHeatMap:
    correct = torch.tensor([[4, 1, 2], [3, 0, 3], [2, 1, 4]])
    return FourierHeatMap(
        eps=2.0,
        image_size=(4, 3),
        total=4,
        clean_correct=4,
        correct=correct,
        correct_on_both=correct,
        frequencies=torch.zeros(5, 2, dtype=torch.int64),
    )


def test_draws_the_error_map_with_centred_frequency_ticks():
    result = small_result()
    ax = plot_fourier_heat_map(result)
    (image,) = ax.get_images()
    np.testing.assert_array_equal(image.get_array(), result.error.numpy())
    assert image.get_extent() == [-1.5, 1.5, 1.5, -1.5]  # j = -1..1, i = -1..1 downwards
    assert image.get_clim() == (0.0, 1.0)
    assert ax.get_title() == "error rate, eps = 2" and len(ax.figure.axes) == 2  # + colour bar


def test_relative_quantity_into_given_axes_without_colorbar():
    result = small_result()
    figure = matplotlib.figure.Figure()
    ax = figure.add_subplot()
    assert plot_fourier_heat_map(result, ax, quantity="relative", colorbar=False, title="m") is ax
    np.testing.assert_array_equal(ax.get_images()[0].get_array(), result.relative.numpy())
    assert ax.get_title() == "m" and len(figure.axes) == 1


def test_bad_arguments():
    with pytest.raises(TypeError, match="result must be the FourierHeatMap"):
        plot_fourier_heat_map(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="quantity must be one of 'error', 'relative'"):
        plot_fourier_heat_map(small_result(), quantity="accuracy")
    with pytest.raises(ValueError, match="cmap must be the name of a matplotlib colormap"):
        plot_fourier_heat_map(small_result(), cmap="viridiss")
    with pytest.raises(TypeError, match="colorbar must be True or False"):
        plot_fourier_heat_map(small_result(), colorbar=1)


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r'pip install "shapebias\[plot\]"'):
        plot_fourier_heat_map(small_result())
