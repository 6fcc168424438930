"""Noise probes (Geirhos et al. 2018): additive uniform noise and Fourier phase noise."""

from __future__ import annotations

import math

import torch
from torch import nn

from shapebias._validation import check_real
from shapebias.distortions._checks import (
    check_distortion_inputs,
    check_fraction,
    per_image_or_batch,
    pick_generator,
    working_precision,
)
from shapebias.distortions._fourier import recombine, self_conjugate_mask

__all__ = ["PhaseScramble", "UniformNoise", "phase_scramble", "uniform_noise"]


def _noise_source(generator: torch.Generator | None, images: torch.Tensor) -> dict:
    device = generator.device if generator is not None else images.device
    return {"generator": generator, "device": device, "dtype": images.dtype}


def uniform_noise(
    images: torch.Tensor, width: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add i.i.d. uniform noise from ``[-width, width]`` to every value, then clip to [0, 1].

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        width: half-width of the noise in pixel units, in ``[0, 1]``.
        generator: source of the noise (on the images' device).

    Returns:
        Noisy images, same shape, dtype and device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        ValueError: ``width`` outside ``[0, 1]``.

    Example:
        >>> import torch
        >>> from shapebias.distortions import uniform_noise
        >>> x = torch.full((1, 3, 8, 8), 0.5)
        >>> y = uniform_noise(x, 0.1, generator=torch.Generator().manual_seed(0))
        >>> bool((y - x).abs().max() <= 0.1)
        True

    References:
        Geirhos et al., "Generalisation in humans and deep neural networks", NeurIPS 2018.
    """
    check_distortion_inputs(images, generator)
    width = check_fraction(width, "width")
    noise = torch.rand(images.shape, **_noise_source(generator, images))
    noise = noise.to(images.device).mul_(2 * width).sub_(width)
    return noise.add_(images).clamp_(0, 1)


def phase_scramble(
    images: torch.Tensor, width: float, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add uniform noise from ``[-width, width]`` radians to the Fourier phase of each image.

    The amplitude spectrum is kept; the same phase noise is used for every channel of an
    image (so colours stay aligned) and it is antisymmetric over the spectrum, so the
    result is real without discarding anything. ``width = pi`` randomises the phase fully.
    The result is clipped to ``[0, 1]``. float16 and bfloat16 images are scrambled in
    float32 and returned in their own dtype.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        width: noise half-width in radians, in ``[0, pi]``.
        generator: source of the noise (on the images' device).

    Returns:
        Phase-scrambled images, same shape, dtype and device.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``.

    Raises:
        ValueError: ``width`` outside ``[0, pi]``.

    Example:
        >>> import torch
        >>> from shapebias.distortions import phase_scramble
        >>> x = torch.rand(2, 3, 16, 16)
        >>> torch.allclose(phase_scramble(x, 0.0), x, atol=1e-6)
        True

    References:
        Geirhos et al., "Generalisation in humans and deep neural networks", NeurIPS 2018.
    """
    check_distortion_inputs(images, generator)
    width = check_real(width, "width", low=0.0, high=math.pi)
    work = working_precision(images)
    n, _, height, w = work.shape
    # The phases of the FFT of real white noise are uniform on (-pi, pi] and
    # antisymmetric (phase(-k) = -phase(k)); scaling keeps the antisymmetry.
    white = torch.randn((n, 1, height, w), **_noise_source(generator, work))
    noise = torch.fft.rfft2(white.to(work.device)).angle().mul_(width / math.pi)
    noise.masked_fill_(self_conjugate_mask(height, w, work.device), 0.0)
    spectrum = torch.fft.rfft2(work)
    scrambled = recombine(spectrum.abs(), spectrum.angle() + noise, (height, w))
    return scrambled.clamp_(0, 1).to(images.dtype)


class UniformNoise(nn.Module):
    """Module twin of :func:`uniform_noise`; ``forward(images, *, generator=None)``.

    A ``generator`` given to ``forward`` overrides the one stored here.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import UniformNoise
        >>> UniformNoise(0.1)(torch.rand(3, 8, 8), generator=torch.Generator()).shape
        torch.Size([3, 8, 8])
    """

    def __init__(self, width: float, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.width = check_fraction(width, "width")
        self.generator = generator

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        chosen = pick_generator(generator, self.generator)
        return per_image_or_batch(uniform_noise, images, self.width, generator=chosen)

    def extra_repr(self) -> str:
        return f"width={self.width:g}"


class PhaseScramble(nn.Module):
    """Module twin of :func:`phase_scramble`; ``forward(images, *, generator=None)``.

    A ``generator`` given to ``forward`` overrides the one stored here.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept.

    Example:
        >>> import torch
        >>> from shapebias.distortions import PhaseScramble
        >>> PhaseScramble(1.0)(torch.rand(3, 8, 8), generator=torch.Generator()).shape
        torch.Size([3, 8, 8])
    """

    def __init__(self, width: float, *, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.width = check_real(width, "width", low=0.0, high=math.pi)
        self.generator = generator

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        chosen = pick_generator(generator, self.generator)
        return per_image_or_batch(phase_scramble, images, self.width, generator=chosen)

    def extra_repr(self) -> str:
        return f"width={self.width:g}"
