"""The radial frequency grid of ``rfft2`` spectra and the projection onto a radial band.

Distortions (ideal low-pass), attacks (band-limited PGD) and :mod:`shapebias.frequency`
share these, so they sit below every subpackage. :func:`band_keep` and
:func:`band_project` check nothing (the attack loop calls them every step); public
callers validate once through :func:`checked_band_keep`.
"""

from __future__ import annotations

from typing import Any

import torch

from shapebias._validation import check_band

__all__ = [
    "band_keep",
    "band_project",
    "checked_band_keep",
    "frequency_radius",
    "squared_radius",
]


def _integer_frequencies(count: int, device: torch.device) -> torch.Tensor:
    """``fftfreq(count) * count`` as exact integers: ``0, 1, ..., -(count // 2), ..., -1``."""
    index = torch.arange(count, device=device)
    return (index + count // 2) % count - count // 2


def squared_radius(height: int, width: int, device: torch.device) -> torch.Tensor:
    """``ky^2 + kx^2`` of each ``rfft2`` bin, int64 ``(height, width // 2 + 1)``, exact."""
    ky = _integer_frequencies(height, device)
    kx = torch.arange(width // 2 + 1, device=device)
    return ky.view(-1, 1) ** 2 + kx.view(1, -1) ** 2


def frequency_radius(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """Distance of each ``rfft2`` bin from the centre of the spectrum, in cycles per image.

    Shape ``(height, width // 2 + 1)``; bin ``(ky, kx)`` has radius ``sqrt(ky^2 + kx^2)``
    with integer frequencies ``ky`` in ``[-H/2, H/2)`` and ``kx`` in ``[0, W/2]``
    (the square root of an exact integer, so integer radii are exact).
    """
    return squared_radius(height, width, like.device).to(like.dtype).sqrt()


def band_keep(size: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    """Boolean ``(size, size // 2 + 1)``: the ``rfft2`` bins with ``low <= r < high``.

    Compared as squares in float64 against the exact integer ``r^2``, so a bin on an
    integer bound falls on the right side (``r = 4`` is in ``[4, 8)``, not in ``[0, 4)``).
    """
    squared = squared_radius(size, size, device).double()
    return (squared >= low * low) & (squared < high * high)


def checked_band_keep(
    band: Any, size: int, device: torch.device, name: str = "band"
) -> torch.Tensor:
    """Validate ``band`` for ``size x size`` images and return its :func:`band_keep` mask.

    Raises:
        TypeError: ``band`` is not a pair of real numbers.
        ValueError: a band outside ``[0, Nyquist]``, ``low >= high``, or one that holds
            no frequency of the grid.
    """
    low, high = check_band(band, size, name)
    keep = band_keep(size, low, high, device)
    if not bool(keep.any()):
        raise ValueError(
            f"{name} ({low:g}, {high:g}) holds no frequency of a {size}x{size} image: radii "
            "are sqrt(ky^2 + kx^2) for integers ky, kx. Widen it, e.g. to (0, 1) for the "
            "DC term alone."
        )
    return keep


def band_project(delta: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Orthogonal projection of real ``(..., H, W)`` signals onto the band ``keep``.

    ``irfft2(rfft2(delta) * keep)``: a radial mask is symmetric under ``k -> -k``, so the
    masked spectrum stays Hermitian and the result is real, idempotent and self-adjoint.
    Half-precision inputs are transformed in float32 and cast back. An empty batch
    (every sample left an early-stopping attack) comes back as it is: MKL refuses it.
    """
    if delta.numel() == 0:
        return delta
    work = delta if delta.dtype in (torch.float32, torch.float64) else delta.float()
    spectrum = torch.fft.rfft2(work) * keep
    return torch.fft.irfft2(spectrum, s=delta.shape[-2:]).to(delta.dtype)
