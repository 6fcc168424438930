"""A frequency lens on shape and texture: the real Fourier basis, Fourier heat maps of a
model's sensitivity to single-frequency perturbations (Yin et al., NeurIPS 2019), radial
bands, band-limited attacks and the low/high-band eps index."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.frequency._band_index import BandEpsIndex, band_eps_index, default_eps_grid
    from shapebias.frequency._bands import band_limit, band_mask
    from shapebias.frequency._basis import fourier_basis
    from shapebias.frequency._heat_map import FourierHeatMap, fourier_heat_map
    from shapebias.frequency._plot import plot_fourier_heat_map
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "BandEpsIndex",
    "FourierHeatMap",
    "band_eps_index",
    "band_limit",
    "band_mask",
    "default_eps_grid",
    "fourier_basis",
    "fourier_heat_map",
    "plot_fourier_heat_map",
]
