"""Slow, literal references for the frequency tools, written from the DFT formula."""

from __future__ import annotations

import math

import numpy as np
import torch

from shapebias.frequency import band_limit


def reference_basis(height: int, width: int, i: int, j: int) -> np.ndarray:
    """U_ij from the definition: the inverse DFT, summed term by term, of the spectrum
    with a 1 at (i, j) and a 1 at (-i, -j) (indices mod the size), then L2-normalised.

    Returns the complex image so callers can check that it is real.
    """
    spectrum = np.zeros((height, width), dtype=complex)
    spectrum[i % height, j % width] = 1.0
    spectrum[-i % height, -j % width] = 1.0
    m = np.arange(height).reshape(-1, 1, 1, 1)
    n = np.arange(width).reshape(1, -1, 1, 1)
    k = np.arange(height).reshape(1, 1, -1, 1)
    l = np.arange(width).reshape(1, 1, 1, -1)  # noqa: E741
    kernel = np.exp(2j * np.pi * (k * m / height + l * n / width))
    image = (kernel * spectrum).sum(axis=(2, 3)) / (height * width)
    return image / np.linalg.norm(image)


def same_pair(a: tuple[int, int], b: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether frequencies a and b are equal or conjugate modulo the image size."""
    height, width = size
    plus = (a[0] - b[0]) % height == 0 and (a[1] - b[1]) % width == 0
    minus = (a[0] + b[0]) % height == 0 and (a[1] + b[1]) % width == 0
    return plus or minus


def reference_heat_map(model, images, labels, *, eps, window, order, seed):
    """Correct counts per window cell, looping over frequencies and images one at a time.

    ``order`` lists the evaluated frequencies in the documented draw order: for each,
    one ``(N, C)`` tensor of random bits from a generator seeded with ``seed``.
    """
    n, channels, height, width = images.shape
    generator = torch.Generator().manual_seed(seed)
    signs = [torch.randint(0, 2, (n, channels), generator=generator) * 2.0 - 1.0 for _ in order]
    clean = [int(model(x[None]).argmax(1)) == int(y) for x, y in zip(images, labels, strict=True)]
    h, w = window
    correct = torch.zeros(window, dtype=torch.int64)
    both = torch.zeros(window, dtype=torch.int64)
    for p in range(h):
        for q in range(w):
            i, j = p - h // 2, q - w // 2
            (f,) = [f for f, pair in enumerate(order) if same_pair((i, j), pair, (height, width))]
            basis = torch.as_tensor(reference_basis(height, width, i, j).real, dtype=images.dtype)
            for k in range(n):
                delta = eps * signs[f][k].to(images.dtype).view(-1, 1, 1) * basis
                perturbed = (images[k] + delta).clamp(0, 1)
                right = int(model(perturbed[None]).argmax(1)) == int(labels[k])
                correct[p, q] += right
                both[p, q] += right and clean[k]
    return sum(clean), correct, both


def centred_index(index: int, size: int) -> int:
    """Signed frequency of DFT bin ``index``: itself below ``size / 2``, else ``index - size``."""
    return index if index < size / 2 else index - size


def reference_full_mask(size: int, low: float, high: float) -> np.ndarray:
    """``(size, size)`` bool over the whole DFT plane: ``low <= sqrt(ky^2 + kx^2) < high``."""
    mask = np.zeros((size, size), dtype=bool)
    for i in range(size):
        for j in range(size):
            radius = math.sqrt(centred_index(i, size) ** 2 + centred_index(j, size) ** 2)
            mask[i, j] = low <= radius < high
    return mask


def _dft_matrix(size: int) -> np.ndarray:
    """``W[k, m] = exp(-2 pi i k m / size)``."""
    k = np.arange(size)
    return np.exp(-2j * np.pi * np.outer(k, k) / size)


def reference_band_limit(delta: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Per image and channel: ``X = W x W^T``, zero bins outside the band, ``x' = W* X W*^T / S^2``.

    Returns the real part; the imaginary part is checked to vanish (a real result).
    """
    size = delta.shape[-1]
    w = _dft_matrix(size)
    mask = reference_full_mask(size, low, high)
    signals = delta.detach().double().numpy()
    out = np.empty_like(signals)
    for index in np.ndindex(*signals.shape[:2]):
        spectrum = w @ signals[index] @ w.T
        back = np.conj(w) @ (spectrum * mask) @ np.conj(w).T / size**2
        if np.abs(back.imag).max() > 1e-9:
            raise AssertionError("the band-limited signal is not real")
        out[index] = back.real
    return torch.from_numpy(out).to(delta.dtype)


def outside_energy(delta: torch.Tensor, low: float, high: float) -> float:
    """Largest |DFT coefficient| of ``delta`` outside the band, per unit of pixel count."""
    size = delta.shape[-1]
    mask = torch.from_numpy(reference_full_mask(size, low, high))
    spectrum = torch.fft.fft2(delta.detach().double()) / size
    return float(spectrum.abs()[..., ~mask].max()) if bool((~mask).any()) else 0.0


class BandFiltered(torch.nn.Module):
    """``net(band_limit(x, band))``: a classifier that sees only one frequency band."""

    def __init__(self, net: torch.nn.Module, band: tuple[float, float]) -> None:
        super().__init__()
        self.net, self.band = net, band

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(band_limit(images, self.band))
