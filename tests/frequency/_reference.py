"""Literal numpy references for radial bands, written from the 2-D DFT formula."""

from __future__ import annotations

import math

import numpy as np
import torch

from shapebias.frequency import band_limit


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
