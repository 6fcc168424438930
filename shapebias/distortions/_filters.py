"""Spatial-frequency filters: Gaussian and ideal (Fourier) low-pass and high-pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from shapebias._validation import check_real
from shapebias.distortions._checks import (
    check_distortion_inputs,
    check_sigma,
    kernel_radius,
    per_image_or_batch,
    working_precision,
)
from shapebias.distortions._fourier import frequency_radius

__all__ = ["HighPass", "LowPass", "gaussian_blur", "high_pass", "low_pass"]


def _gaussian_kernel(sigma: float, like: torch.Tensor) -> torch.Tensor:
    radius = kernel_radius(sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with mirror padding (``scipy.ndimage`` mode ``"mirror"``).

    The kernel is truncated at 4 sigma and renormalised, so the output is a convex
    combination of input pixels. Checks only that ``sigma`` fits the images (before
    building the kernel); callers validate the rest.
    """
    check_sigma(sigma, images, mirror=True)
    kernel = _gaussian_kernel(sigma, images)
    radius = kernel.numel() // 2
    n, channels, height, width = images.shape
    flat = images.reshape(n * channels, 1, height, width)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))
    return flat.view(n, channels, height, width)


def _ideal_low_pass(images: torch.Tensor, radius: float) -> torch.Tensor:
    work = working_precision(images)  # FFTs need float32 or float64
    height, width = work.shape[-2:]
    keep = frequency_radius(height, width, work) <= radius
    spectrum = torch.fft.rfft2(work) * keep
    return torch.fft.irfft2(spectrum, s=(height, width)).to(images.dtype)


def _check_filter(sigma: Any, radius: Any) -> tuple[str, float]:
    if (sigma is None) == (radius is None):
        raise TypeError(
            "pass exactly one of sigma= (Gaussian filter, in pixels) or radius= (ideal "
            f"filter, in cycles per image), got sigma={sigma!r} and radius={radius!r}."
        )
    if sigma is not None:
        return "sigma", check_real(sigma, "sigma", low=0.0, low_inclusive=False, finite=True)
    return "radius", check_real(radius, "radius", low=0.0)


def _unclipped_low_pass(images: torch.Tensor, kind: str, value: float) -> torch.Tensor:
    if kind == "sigma":
        return gaussian_blur(images, value)
    return _ideal_low_pass(images, value)


def low_pass(
    images: torch.Tensor,
    *,
    sigma: float | None = None,
    radius: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Remove high spatial frequencies with a Gaussian or an ideal Fourier filter.

    Exactly one of:

    - ``sigma``: Gaussian blur with standard deviation ``sigma`` pixels (kernel truncated
      at 4 sigma, mirror padding). The output is a convex combination of pixels, so it
      stays in ``[0, 1]`` without clipping.
    - ``radius``: ideal filter on the centred spectrum: keep the Fourier coefficients
      with ``sqrt(ky^2 + kx^2) <= radius`` (integer frequencies in cycles per image) and
      zero the rest (circular boundary). Ringing can leave ``[0, 1]``; the result is
      clipped, which can put back a little power above the cutoff near saturated pixels.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        sigma: Gaussian standard deviation in pixels, finite and ``> 0``; its 4-sigma
            kernel radius must be smaller than ``min(H, W)``.
        radius: ideal cutoff in cycles per image, ``>= 0`` (0 keeps only the mean).
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Filtered images, same shape, dtype and device; differentiable.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        TypeError: neither or both of ``sigma`` and ``radius`` given.
        ValueError: a non-positive, NaN or infinite ``sigma`` or one too wide for the
            images (refused before any kernel is built), ``radius < 0`` or NaN.

    Example:
        >>> import torch
        >>> from shapebias.distortions import low_pass
        >>> x = torch.rand(1, 3, 32, 32)
        >>> bool(low_pass(x, sigma=2.0).std() < x.std())
        True

    References:
        Geirhos et al., "Generalisation in humans and deep neural networks", NeurIPS 2018.
    """
    check_distortion_inputs(images, generator)
    kind, value = _check_filter(sigma, radius)
    return _unclipped_low_pass(images, kind, value).clamp(0, 1)


def high_pass(
    images: torch.Tensor,
    *,
    sigma: float | None = None,
    radius: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Keep only high spatial frequencies: ``clip(v - low_pass(v) + 0.5, 0, 1)``.

    The filters are those of :func:`low_pass` (before its clipping). The zero-mean detail
    is shown on mid-grey 0.5, so the image's mean colour is lost by design.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        sigma: Gaussian standard deviation in pixels, ``> 0``, as in :func:`low_pass`.
        radius: ideal cutoff in cycles per image, ``>= 0``.
        generator: accepted for the uniform distortion protocol and ignored.

    Returns:
        Filtered images, same shape, dtype and device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        TypeError: neither or both of ``sigma`` and ``radius`` given.
        ValueError: as :func:`low_pass`.

    Example:
        >>> import torch
        >>> from shapebias.distortions import high_pass
        >>> high_pass(torch.full((1, 1, 16, 16), 0.8), sigma=1.0).unique()
        tensor([0.5000])
    """
    check_distortion_inputs(images, generator)
    kind, value = _check_filter(sigma, radius)
    detail = images - _unclipped_low_pass(images, kind, value)
    return detail.add_(0.5).clamp_(0, 1)


class _FrequencyFilter(nn.Module):
    function: Callable[..., torch.Tensor]  # low_pass or high_pass

    def __init__(self, *, sigma: float | None = None, radius: float | None = None) -> None:
        super().__init__()
        kind, value = _check_filter(sigma, radius)
        self.sigma = value if kind == "sigma" else None
        self.radius = value if kind == "radius" else None

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Filter ``images``; ``generator`` is accepted and ignored (deterministic)."""
        options = {"sigma": self.sigma, "radius": self.radius, "generator": generator}
        return per_image_or_batch(self.function, images, **options)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}" if self.sigma is not None else f"radius={self.radius}"


class LowPass(_FrequencyFilter):
    """Module twin of :func:`low_pass`; accepts one image ``(C, H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import LowPass
        >>> LowPass(sigma=1.5)(torch.rand(3, 16, 16)).shape
        torch.Size([3, 16, 16])
    """

    function = staticmethod(low_pass)


class HighPass(_FrequencyFilter):
    """Module twin of :func:`high_pass`; accepts one image ``(C, H, W)`` or a batch.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import HighPass
        >>> HighPass(radius=4)(torch.rand(3, 16, 16)).shape
        torch.Size([3, 16, 16])
    """

    function = staticmethod(high_pass)
