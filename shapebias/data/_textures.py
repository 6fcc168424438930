"""Procedural and real texture families, normalised to unit high-pass contrast.

Every family renders a grayscale pattern with zero mean and a *high-pass standard
deviation* of 1 (see :func:`highpass_std`), so that one ``texture_contrast`` number sets
how strong any texture is. The dataset multiplies the pattern by that number and adds
it to a flat colour.

Procedural families are drawn per image on the pixel grid, with a random period
(``image_size / cycles`` times a factor in ``[2**-0.25, 2**0.25]``; ``cycles`` is 5 by
default), orientation (uniform in ``[0, pi)``) and phase. Tile families (the real
scikit-image textures and ``mottle``) are cut from a precomputed ``2 * image_size``
square tile at a random offset and under a random flip / quarter turn; ``cycles`` scales
them too (see :func:`render_texture`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = [
    "BASE_CYCLES",
    "REAL_TEXTURES",
    "TEXTURES",
    "highpass_sigma",
    "highpass_std",
    "pixel_grid",
    "render_texture",
    "warm_up",
]

REAL_TEXTURES = ("brick", "grass", "gravel")
"""The scikit-image photographs of real textures used as texture families."""

TEXTURES = (
    "stripes",
    "checks",
    "dots",
    "waves",
    "brick",
    "grass",
    "gravel",
    "zigzag",
    "grid",
    "speckle",
    "rings",
    "mottle",
)
"""Texture family names in class order: class ``k`` is filled with ``TEXTURES[k]``."""

BASE_CYCLES = 5.0
"""Texture periods across the image by default: the period is ``image_size / 5``."""

_CALIBRATION_SAMPLES = 32
_TILE_FACTOR = 2


def highpass_sigma(image_size: int) -> float:
    """The Gaussian width of the high-pass filter: 2 pixels at 32x32, scaled with the size."""
    return image_size / 16


def highpass_std(image: np.ndarray, sigma: float) -> float:
    """Standard deviation of ``image - gaussian_filter(image, sigma)`` (reflecting borders)."""
    image = np.asarray(image, dtype=np.float64)
    return float(np.std(image - gaussian_filter(image, sigma, mode="reflect")))


def _square_wave(t: np.ndarray, period: float) -> np.ndarray:
    """A +-1 square wave of period 1 in ``t``, antialiased over about one pixel."""
    return np.clip(np.sin(2 * np.pi * t) * (period / np.pi), -1.0, 1.0)


def _nearest_offset(t: np.ndarray) -> np.ndarray:
    return np.abs(t - np.round(t))


Pattern = Callable[[np.ndarray, np.ndarray, float, np.random.Generator], np.ndarray]


def _stripes(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    return _square_wave(u, period)


def _checks(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    return _square_wave(u, period) * _square_wave(v, period)


def _dots(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    distance_px = np.sqrt(_nearest_offset(u) ** 2 + _nearest_offset(v) ** 2) * period
    return np.clip(0.3 * period - distance_px, -0.5, 0.5) * 2


def _waves(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    return np.sin(2 * np.pi * (u + 0.3 * np.sin(np.pi * v)))


def _zigzag(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    triangle = np.abs(2 * (v - np.floor(v)) - 1)
    return _square_wave(u + 0.6 * triangle, period)


def _grid(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    distance_px = np.minimum(_nearest_offset(u), _nearest_offset(v)) * period
    return np.clip(1.25 - distance_px, 0.0, 1.0) * 2 - 1


def _rings(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    centre = rng.uniform(-1.0, 1.0, size=2) * 2.5
    radius = np.sqrt((u - centre[0]) ** 2 + (v - centre[1]) ** 2)
    return _square_wave(radius, period)


def _speckle(u: np.ndarray, v: np.ndarray, period: float, rng: np.random.Generator) -> np.ndarray:
    return rng.random(u.shape) * 2 - 1


_PATTERNS: dict[str, Pattern] = {
    "stripes": _stripes,
    "checks": _checks,
    "dots": _dots,
    "waves": _waves,
    "zigzag": _zigzag,
    "grid": _grid,
    "rings": _rings,
    "speckle": _speckle,
}


@lru_cache(maxsize=8)
def pixel_grid(image_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat float64 ``x`` and ``y`` coordinates of the pixel centres (row-major), cached."""
    ys, xs = np.mgrid[0:image_size, 0:image_size].astype(np.float64) + 0.5
    xs.setflags(write=False)
    ys.setflags(write=False)
    return xs.ravel(), ys.ravel()


def _procedural(name: str, image_size: int, cycles: float, rng: np.random.Generator) -> np.ndarray:
    """One unnormalised pattern as a flat ``(image_size**2,)`` float64 array."""
    x, y = pixel_grid(image_size)
    period = image_size / cycles * 2 ** rng.uniform(-0.25, 0.25)
    angle = rng.uniform(0.0, np.pi)
    phase_u, phase_v = rng.random(2)
    cos, sin = np.cos(angle) / period, np.sin(angle) / period
    u = x * cos + y * sin + phase_u
    v = y * cos - x * sin + phase_v
    return _PATTERNS[name](u, v, period, rng)


@lru_cache(maxsize=64)
def _procedural_calibration(name: str, image_size: int, cycles: float) -> tuple[float, float]:
    """Mean and mean high-pass std of the raw pattern over fixed-seed samples (computed once)."""
    rng = np.random.default_rng(0)
    samples = [_procedural(name, image_size, cycles, rng) for _ in range(_CALIBRATION_SAMPLES)]
    sigma = highpass_sigma(image_size)
    stds = [highpass_std(sample.reshape(image_size, -1), sigma) for sample in samples]
    return float(np.mean(samples)), float(1.0 / np.mean(stds))


def _load_real(name: str, cycles: float) -> np.ndarray:
    """The photograph in ``[0, 1]``, cropped (coarser) or mirror-extended (finer) to scale."""
    from skimage import data

    photo = getattr(data, name)().astype(np.float64) / 255.0
    side = photo.shape[0]
    region = max(2, round(side * cycles / BASE_CYCLES))
    if region < side:
        start = (side - region) // 2
        return photo[start : start + region, start : start + region]
    if region > side:
        return np.pad(photo, (0, region - side), mode="symmetric")
    return photo


def _mottle(tile_size: int, cycles: float) -> np.ndarray:
    """Band-pass noise: blobs about 2 pixels wide at 32x32 (difference of Gaussians)."""
    noise = np.random.default_rng(0).random((tile_size, tile_size))
    sigma = tile_size * BASE_CYCLES / (64 * cycles)
    return gaussian_filter(noise, sigma, mode="wrap") - gaussian_filter(
        noise, 4 * sigma, mode="wrap"
    )


@lru_cache(maxsize=32)
def _tile(name: str, image_size: int, cycles: float) -> np.ndarray:
    """A ``(2 * image_size, 2 * image_size)`` tile with zero mean and unit high-pass std."""
    from skimage.transform import resize

    tile_size = _TILE_FACTOR * image_size
    if name == "mottle":
        tile = _mottle(tile_size, cycles)
    else:
        tile = resize(_load_real(name, cycles), (tile_size, tile_size), anti_aliasing=True)
    tile = tile - tile.mean()
    tile = tile / highpass_std(tile, highpass_sigma(image_size))
    tile.setflags(write=False)
    return tile


def _tile_crop(name: str, image_size: int, cycles: float, rng: np.random.Generator) -> np.ndarray:
    tile = _tile(name, image_size, cycles)
    top, left = rng.integers(0, tile.shape[0] - image_size + 1, size=2)
    crop = tile[top : top + image_size, left : left + image_size]
    turns, flip = rng.integers(0, 4), rng.integers(0, 2)
    crop = np.rot90(crop, int(turns))
    if flip:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop).ravel()


def render_texture(
    name: str, image_size: int, rng: np.random.Generator, *, cycles: float = BASE_CYCLES
) -> np.ndarray:
    """A random instance of texture family ``name`` with unit high-pass contrast.

    ``cycles`` is the number of texture periods across the image: procedural periods
    are ``image_size / cycles`` (times the random factor); the real photographs are
    cropped (``cycles < 5``) or mirror-extended (``cycles > 5``) before being resized to
    the tile, and ``mottle``'s blob width scales as ``5 / cycles``, so every family's
    features scale by the same factor. ``speckle`` is pixel noise and has no scale.

    Returns a flat ``(image_size**2,)`` float64 array (row-major). Everything random
    comes from ``rng``.
    """
    if name in _PATTERNS:
        mean, scale = _procedural_calibration(name, image_size, cycles)
        pattern = _procedural(name, image_size, cycles, rng)
        pattern -= mean
        pattern *= scale
        return pattern
    return _tile_crop(name, image_size, cycles, rng)


def warm_up(image_size: int, cycles: float = BASE_CYCLES) -> None:
    """Compute every family's tile and calibration once (so workers start warm)."""
    for name in TEXTURES:
        if name in _PATTERNS:
            _procedural_calibration(name, image_size, cycles)
        else:
            _tile(name, image_size, cycles)
