"""Radial frequency bands: the ``rfft2`` mask of a band and the projection onto it.

A band ``(low, high)`` holds the 2-D Fourier components whose radial frequency
``r = sqrt(ky^2 + kx^2)`` lies in ``[low, high)``, with ``ky, kx`` the centred integer
frequency indices (cycles per image, the convention of
:func:`shapebias.distortions.low_pass`'s ``radius``). Nyquist is ``size / 2``;
``high = math.inf`` also keeps the spectrum's corners beyond the Nyquist circle.
"""

from __future__ import annotations

import torch

from shapebias._spectrum import band_project, checked_band_keep
from shapebias._validation import check_int, check_perturbation, check_square

__all__ = ["band_limit", "band_mask"]


def band_mask(
    size: int, band: tuple[float, float], *, device: torch.device | str | None = None
) -> torch.Tensor:
    """Boolean mask of a radial frequency band, in the layout of :func:`torch.fft.rfft2`.

    Entry ``(i, j)`` is True when ``low <= sqrt(ky^2 + kx^2) < high``, where
    ``ky = i`` for ``i < size / 2`` and ``i - size`` otherwise
    (:func:`torch.fft.fftfreq` times ``size``) and ``kx = j``. Bounds are compared
    exactly (as integers squared), so ``r = 4`` belongs to ``[4, 8)``, not ``[0, 4)``.
    The mask is symmetric under ``k -> -k``, so masking a real image's spectrum keeps
    it Hermitian (:func:`band_limit` returns real images).

    Args:
        size: side of the square images, in pixels.
        band: ``(low, high)`` in cycles per image, ``0 <= low < high``; both at most the
            Nyquist frequency ``size / 2``, or ``high = math.inf``.
        device: where to build the mask (default: the CPU).

    Returns:
        The mask, ``torch.bool``.

    Shape:
        ``(size, size // 2 + 1)``.

    Raises:
        TypeError: ``size`` not an int; ``band`` not a pair of real numbers.
        ValueError: ``size < 1``; a band outside ``[0, size / 2]``, ``low >= high``, or
            one that holds no frequency of the grid.

    Example:
        >>> from shapebias.frequency import band_mask
        >>> mask = band_mask(8, (0, 1.1))  # DC and the 3 of its 4 neighbours rfft2 stores
        >>> mask.shape, int(mask.sum())
        (torch.Size([8, 5]), 4)
    """
    check_int(size, "size", low=1)
    return checked_band_keep(band, size, torch.device(device or "cpu"))


def band_limit(delta: torch.Tensor, band: tuple[float, float]) -> torch.Tensor:
    """Keep only the Fourier components of ``delta`` in a radial frequency band.

    ``irfft2(rfft2(delta) * band_mask(S, band))`` over the last two dimensions, per image
    and channel: the orthogonal projection onto the band (idempotent, self-adjoint, real
    output, every component outside the band exactly removed).

    Args:
        delta: perturbations or images (floating; half precision is transformed in
            float32 and cast back).
        band: ``(low, high)`` in cycles per image, see :func:`band_mask`.

    Returns:
        The band-limited tensor, same shape, dtype and device as ``delta``.

    Shape:
        ``(N, C, S, S)``: square images.

    Raises:
        TypeError: ``delta`` not a floating tensor; ``band`` not a pair of numbers.
        ValueError: ``delta`` not 4-D, empty, not finite or not square; a band outside
            ``[0, S / 2]``, ``low >= high``, or one that holds no frequency.

    Example:
        >>> import torch
        >>> from shapebias.frequency import band_limit
        >>> delta = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> low = band_limit(delta, (0, 4))
        >>> bool(torch.allclose(band_limit(low, (0, 4)), low, atol=1e-6))  # a projection
        True
        >>> float(band_limit(low, (4, float("inf"))).abs().max()) < 1e-6  # nothing high
        True
    """
    check_perturbation(delta)
    size = check_square(delta, "delta", "a radial frequency band")
    return band_project(delta, checked_band_keep(band, size, delta.device))
