"""A frequency lens on shape and texture: radial bands, band-limited attacks, the band index."""

from shapebias.frequency._band_index import BandEpsIndex, band_eps_index, default_eps_grid
from shapebias.frequency._bands import band_limit, band_mask

__all__ = ["BandEpsIndex", "band_eps_index", "band_limit", "band_mask", "default_eps_grid"]
