"""The real, unit-norm 2-D Fourier basis images of Yin et al. (2019), and their index range."""

from __future__ import annotations

import math
from typing import Any

import torch

from shapebias._validation import check_int

__all__ = ["basis_images", "centred_range", "check_frequency", "check_size", "fourier_basis"]


def fourier_basis(
    size: int | tuple[int, int],
    i: int,
    j: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """The real 2-D Fourier basis image ``U_ij`` of unit L2 norm (Yin et al., 2019).

    ``U_ij`` is the inverse DFT of the spectrum that holds a 1 at frequency ``(i, j)``
    and a 1 at its conjugate partner ``(-i, -j)`` (indices modulo the size), divided by
    its L2 norm. Written out, with ``m`` the row and ``n`` the column,

    ``U_ij[m, n] = c * cos(2 * pi * (i * m / H + j * n / W))``,

    where ``c = sqrt(2 / (H * W))``, or ``c = 1 / sqrt(H * W)`` for the frequencies that
    are their own partner (each of ``i`` and ``j`` is 0 or, for an even side, the
    Nyquist frequency ``-H/2`` or ``-W/2``), whose spectrum holds a single 1. So ``i``
    is the vertical frequency (cycles per image height) and ``j`` the horizontal one. ``U_ij`` and
    ``U_-i,-j`` are the same image; over one half of the frequency plane the images are
    orthonormal. (They span only the even, cosine half of the image space; the sine
    images ``U_ij`` shifted by a quarter period are the other half.)

    Args:
        size: the image size, ``H`` (square) or ``(H, W)``.
        i: vertical frequency, a centred index in ``[-(H // 2), (H - 1) // 2]``: the
            frequencies of ``torch.fft.fftshift`` order, ``0`` in the middle. For even
            ``H`` the Nyquist frequency is ``-H/2`` (``+H/2`` is the same frequency).
        j: horizontal frequency, in ``[-(W // 2), (W - 1) // 2]``.
        dtype: a floating dtype of the result.
        device: the device of the result.

    Returns:
        The basis image, real, with ``||U_ij||_2 = 1``.

    Shape:
        ``(H, W)``.

    Raises:
        TypeError: ``size``, ``i`` or ``j`` is not an int (pair), or ``dtype`` is not a
            floating dtype.
        ValueError: ``size`` is not positive, or ``i``/``j`` lies outside the Nyquist range.

    Example:
        >>> import torch
        >>> from shapebias.frequency import fourier_basis
        >>> u = fourier_basis(8, 1, 2, dtype=torch.float64)
        >>> round(float(u.norm()), 12), torch.equal(u, fourier_basis(8, -1, -2, dtype=u.dtype))
        (1.0, True)

    References:
        Yin, Gontijo Lopes, Shlens, Cubuk & Gilmer, "A Fourier Perspective on Model
        Robustness in Computer Vision", NeurIPS 2019 (Section 3, Fourier basis).
    """
    height, width = check_size(size, "size")
    check_frequency(i, "i", height, "height")
    check_frequency(j, "j", width, "width")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating torch.dtype such as torch.float32, got {dtype!r}."
        )
    frequencies = torch.tensor([[i, j]], device=device)
    return basis_images(frequencies, height, width, dtype=dtype)[0]


def basis_images(
    frequencies: torch.Tensor, height: int, width: int, *, dtype: torch.dtype
) -> torch.Tensor:
    """``U_ij`` for each row ``(i, j)`` of an int tensor ``(F, 2)``: a ``(F, H, W)`` stack.

    Unchecked (the public callers check). The phase ``i * m / H + j * n / W`` is reduced
    modulo 1 in integer arithmetic and the cosine taken in float64, so the images are
    exact to the dtype's rounding at every size, and ``U_ij`` equals ``U_-i,-j`` exactly.
    """
    device = frequencies.device
    rows = torch.arange(height, device=device)
    cols = torch.arange(width, device=device)
    i, j = frequencies[:, 0:1], frequencies[:, 1:2]
    # phase in units of 1 / (H * W): (i m W + j n H) mod (H W), exact in int64, folded
    # to [0, H W / 2] (cos is even) so that U_ij and U_-i,-j agree bit for bit.
    period = height * width
    vertical = (i * rows * width).remainder(period)
    horizontal = (j * cols * height).remainder(period)
    phase = (vertical[:, :, None] + horizontal[:, None, :]).remainder(period)
    phase = torch.minimum(phase, period - phase).to(torch.float64)
    images = torch.cos(phase * (2 * math.pi / period))
    own_partner = (2 * i).remainder(height).eq(0) & (2 * j).remainder(width).eq(0)
    scale = torch.full(
        own_partner.shape, math.sqrt(2.0 / (height * width)), dtype=torch.float64, device=device
    )
    scale[own_partner] = 1.0 / math.sqrt(height * width)
    return (images * scale[:, :, None]).to(dtype)


def centred_range(length: int) -> tuple[int, int]:
    """The centred frequency indices of a length: ``(-(length // 2), (length - 1) // 2)``."""
    return -(length // 2), (length - 1) // 2


def check_frequency(value: Any, name: str, length: int, dimension: str) -> int:
    """Check a centred frequency index inside the Nyquist range of ``length`` and return it.

    Raises:
        TypeError: not an int.
        ValueError: outside ``[-(length // 2), (length - 1) // 2]``.
    """
    check_int(value, name)
    low, high = centred_range(length)
    if not low <= value <= high:
        alias = (
            f" (for even {dimension} {length}, {length // 2} is the same frequency as "
            f"{-(length // 2)}: use {-(length // 2)})"
            if length % 2 == 0 and value == length // 2
            else ""
        )
        raise ValueError(
            f"{name} must be a centred frequency index in [{low}, {high}], the Nyquist range "
            f"of an image of {dimension} {length}, got {value}{alias}."
        )
    return value


def check_size(size: Any, name: str) -> tuple[int, int]:
    """Check an image or window size, ``S`` or ``(H, W)`` of positive ints; return ``(H, W)``.

    Raises:
        TypeError: not an int or a pair of ints.
        ValueError: a side below 1, or a sequence that is not a pair.
    """
    if isinstance(size, int) and not isinstance(size, bool):
        sides: tuple[Any, ...] = (size, size)
    elif isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise ValueError(
                f"{name} must be an int or a pair (H, W), got {len(size)} entries {size!r}."
            )
        sides = tuple(size)
    else:
        raise TypeError(
            f"{name} must be an int or a pair (H, W) of ints, got {type(size).__name__} {size!r}."
        )
    for side, what in zip(sides, ("H", "W"), strict=True):
        if isinstance(side, bool) or not isinstance(side, int):
            raise TypeError(
                f"{name} must be an int or a pair (H, W) of ints, got {what} = {side!r}."
            )
        if side < 1:
            raise ValueError(f"{name} must have sides >= 1, got {what} = {side}.")
    return sides[0], sides[1]
