"""Frequency analysis: the real Fourier basis and Fourier heat maps of a model's
sensitivity to single-frequency perturbations (Yin et al., NeurIPS 2019)."""

from shapebias.frequency._basis import fourier_basis
from shapebias.frequency._heat_map import FourierHeatMap, fourier_heat_map
from shapebias.frequency._plot import plot_fourier_heat_map

__all__ = [
    "FourierHeatMap",
    "fourier_basis",
    "fourier_heat_map",
    "plot_fourier_heat_map",
]
