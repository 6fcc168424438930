"""fourier_basis against the DFT definition: real, unit norm, orthonormal on a half-plane."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from shapebias.frequency import fourier_basis
from shapebias.frequency._heat_map import half_plane
from tests.frequency._reference import reference_basis, same_pair

SIZES = [(4, 4), (5, 5), (4, 6), (5, 2), (1, 3)]


def frequencies(height: int, width: int) -> list[tuple[int, int]]:
    rows = range(-(height // 2), (height - 1) // 2 + 1)
    cols = range(-(width // 2), (width - 1) // 2 + 1)
    return list(itertools.product(rows, cols))


@pytest.mark.parametrize("size", SIZES)
def test_matches_the_inverse_dft_of_a_conjugate_pair_and_is_real(size):
    height, width = size
    for i, j in frequencies(height, width):
        expected = reference_basis(height, width, i, j)
        assert np.abs(expected.imag).max() < 1e-12
        got = fourier_basis(size, i, j, dtype=torch.float64)
        np.testing.assert_allclose(got.numpy(), expected.real, atol=1e-12)


@pytest.mark.parametrize("size", SIZES)
def test_spectrum_holds_exactly_the_pair(size):
    height, width = size
    for i, j in frequencies(height, width):
        spectrum = torch.fft.fft2(fourier_basis(size, i, j, dtype=torch.float64))
        support = {tuple(index) for index in (spectrum.abs() > 1e-9).nonzero().tolist()}
        assert support == {(i % height, j % width), (-i % height, -j % width)}


@pytest.mark.parametrize("size", SIZES)
def test_orthonormal_over_the_half_plane_and_conjugates_coincide(size):
    height, width = size
    pairs, _ = half_plane(size, size)
    stack = torch.stack([fourier_basis(size, i, j, dtype=torch.float64) for i, j in pairs.tolist()])
    gram = stack.flatten(1) @ stack.flatten(1).T
    torch.testing.assert_close(gram, torch.eye(len(pairs), dtype=torch.float64), atol=1e-12, rtol=0)
    for i, j in frequencies(height, width):
        partner = (-i % height, -j % width)
        partner = tuple(
            p - s if p > (s - 1) // 2 else p for p, s in zip(partner, size, strict=True)
        )
        assert torch.equal(fourier_basis(size, i, j), fourier_basis(size, *partner))
    # every frequency is one of the half-plane's, or its partner: nothing is missing
    for i, j in frequencies(height, width):
        assert sum(same_pair((i, j), tuple(p), size) for p in pairs.tolist()) == 1


def test_square_size_dtype_and_device():
    u = fourier_basis(8, 3, -2)
    assert u.shape == (8, 8) and u.dtype == torch.float32 and u.device.type == "cpu"
    assert abs(float(u.norm()) - 1.0) < 1e-6
    assert fourier_basis((8, 8), 3, -2, dtype=torch.float64, device="cpu").dtype == torch.float64
    # i is the vertical frequency: constant along each row when j = 0
    vertical = fourier_basis(8, 2, 0)
    assert torch.equal(vertical, vertical[:, :1].expand(8, 8))
    assert not torch.allclose(vertical[0], vertical[1])


def test_self_conjugate_frequencies_have_one_spectral_entry():
    for i, j in [(0, 0), (-4, 0), (0, -3), (-4, -3)]:
        u = fourier_basis((8, 6), i, j, dtype=torch.float64)
        assert torch.allclose(u.abs(), torch.full((8, 6), 1 / np.sqrt(48), dtype=torch.float64))


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (
            (8, 4, 0),
            ValueError,
            r"i must be a centred frequency index in \[-4, 3\].*height 8.*"
            r"4 is the same frequency as -4",
        ),
        ((8, -5, 0), ValueError, r"i must be a centred frequency index in \[-4, 3\].*got -5"),
        (((8, 5), 0, 3), ValueError, r"j must be a centred frequency index in \[-2, 2\].*width 5"),
        ((0, 0, 0), ValueError, r"size must have sides >= 1, got H = 0"),
        (((8, 8, 3), 0, 0), ValueError, r"size must be an int or a pair \(H, W\), got 3 entries"),
        ((8.0, 0, 0), TypeError, r"size must be an int or a pair \(H, W\) of ints, got float"),
        (((8, True), 0, 0), TypeError, r"got W = True"),
        ((8, 1.0, 0), TypeError, r"i must be an int, got float"),
    ],
)
def test_bad_input_names_the_parameter(args, error, match):
    with pytest.raises(error, match=match):
        fourier_basis(*args)


def test_bad_dtype():
    with pytest.raises(TypeError, match=r"dtype must be a floating torch.dtype.*torch.int64"):
        fourier_basis(8, 0, 0, dtype=torch.int64)
