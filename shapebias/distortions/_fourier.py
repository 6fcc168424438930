"""Fourier-domain building blocks: amplitude/phase recombination and frequency grids."""

from __future__ import annotations

import torch

from shapebias._spectrum import frequency_radius

__all__ = ["frequency_radius", "recombine", "self_conjugate_mask"]


def self_conjugate_mask(height: int, width: int, device: torch.device) -> torch.Tensor:
    """``rfft2`` bins that are their own conjugate partner (DC and Nyquist rows/columns).

    Their coefficients are real for a real image, so their phase must stay 0 or pi.
    """
    rows = torch.zeros(height, dtype=torch.bool, device=device)
    cols = torch.zeros(width // 2 + 1, dtype=torch.bool, device=device)
    rows[0] = cols[0] = True
    if height % 2 == 0:
        rows[height // 2] = True
    if width % 2 == 0:
        cols[width // 2] = True
    return rows.view(-1, 1) & cols.view(1, -1)


def recombine(amplitude: torch.Tensor, phase: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Inverse real FFT of the spectrum with the given amplitude and phase (unclipped)."""
    return torch.fft.irfft2(torch.polar(amplitude, phase), s=size)
