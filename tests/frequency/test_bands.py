import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.data import sample_images
from shapebias.frequency import band_limit, band_mask
from tests.frequency._reference import outside_energy, reference_band_limit, reference_full_mask

BANDS = [(0, 1), (0, 2.5), (1, 3.2), (3, 3.5), (2, math.inf), (0, math.inf)]


def _signals(n=2, channels=3, size=8, seed=0, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, generator=generator, dtype=dtype)


@pytest.mark.parametrize("size", [7, 8, 16])
@pytest.mark.parametrize("band", BANDS)
def test_mask_matches_the_literal_formula(size, band):
    full = reference_full_mask(size, *band)
    assert np.array_equal(band_mask(size, band).numpy(), full[:, : size // 2 + 1])


def test_mask_bounds_are_exact_and_half_open():
    # r = 4 (ky = 0, kx = 4) and r = 5 (ky = 3, kx = 4) sit exactly on the bounds.
    assert not bool(band_mask(16, (0, 4))[0, 4])
    assert bool(band_mask(16, (4, 5))[0, 4])
    assert not bool(band_mask(16, (4, 5))[3, 4])
    assert bool(band_mask(16, (5, 6))[3, 4])


def test_mask_is_symmetric_so_the_full_plane_mask_is_conjugate_symmetric():
    size = 12
    full = reference_full_mask(size, 2, 5)
    flipped = np.roll(full[::-1, ::-1], 1, axis=(0, 1))  # k -> -k mod size
    assert np.array_equal(full, flipped)
    assert band_mask(size, (2, 5)).dtype == torch.bool


@pytest.mark.parametrize("size", [7, 8])
@pytest.mark.parametrize("band", [(0, 2), (1.5, 3), (2, math.inf)])
def test_band_limit_matches_the_literal_dft(size, band):
    delta = _signals(size=size)
    torch.testing.assert_close(band_limit(delta, band), reference_band_limit(delta, *band))


@given(seed=st.integers(0, 2**31 - 1), split=st.sampled_from([1, 2, 3.5, 4]))
def test_projection_properties(seed, split):
    a, b = _signals(seed=seed), _signals(seed=seed + 1)
    low = band_limit(a, (0, split))
    high = band_limit(a, (split, math.inf))
    torch.testing.assert_close(low + high, a)  # complementary bands split the signal
    torch.testing.assert_close(band_limit(low, (0, split)), low)  # idempotent
    assert float(band_limit(low, (split, math.inf)).abs().max()) < 1e-12
    left = (band_limit(a, (0, split)) * b).sum()
    right = (a * band_limit(b, (0, split))).sum()
    torch.testing.assert_close(left, right)  # self-adjoint: an orthogonal projection
    assert float((low * high).sum().abs()) < 1e-9


def test_whole_plane_band_is_the_identity():
    delta = _signals(dtype=torch.float32)
    torch.testing.assert_close(band_limit(delta, (0, math.inf)), delta, atol=1e-6, rtol=0)


def test_real_images_keep_no_energy_outside_the_band():
    images = torch.stack(list(sample_images(32, names=["astronaut", "brick"]).values()))
    for band in [(0, 4), (4, 10), (10, math.inf)]:
        limited = band_limit(images, band)
        assert outside_energy(limited, *band) < 1e-6
        assert outside_energy(images, *band) > 1e-3  # the image itself has energy there


def test_shape_dtype_device_kept_and_input_untouched():
    delta = _signals(dtype=torch.float32)
    before = delta.clone()
    out = band_limit(delta, (0, 3))
    assert out.shape == delta.shape and out.dtype == delta.dtype and out.device == delta.device
    assert torch.equal(delta, before)


def test_half_precision_is_transformed_in_float32():
    delta = _signals(dtype=torch.float32)
    out = band_limit(delta.bfloat16(), (0, 3))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), band_limit(delta, (0, 3)), atol=0.05, rtol=0)


@pytest.mark.parametrize(
    "band,error,match",
    [
        ((4, 2), ValueError, r"band must have low < high .* got \(4, 2\)"),
        ((2, 2), ValueError, "low < high"),
        ((-1, 2), ValueError, r"band\[0\] \(low\) must be >= 0"),
        ((0, 5), ValueError, r"within \[0, Nyquist\] = \[0, 4\].*math.inf"),
        ((5, math.inf), ValueError, "Nyquist"),
        ((math.nan, 2), ValueError, "finite"),
        ((0, math.nan), ValueError, "finite"),
        ((0.2, 0.5), ValueError, "holds no frequency"),
        ((0, 1, 2), ValueError, "a pair"),
        ((True, 2), TypeError, "real number"),
        ("04", TypeError, "pair"),
        (3, TypeError, "pair"),
        (torch.tensor([0.0, 1.0]), TypeError, "pair"),
    ],
)
def test_bad_bands(band, error, match):
    with pytest.raises(error, match=match):
        band_mask(8, band)
    with pytest.raises(error, match=match):
        band_limit(_signals(size=8), band)


def test_bad_sizes_and_signals():
    with pytest.raises(TypeError, match="size must be an int"):
        band_mask(8.0, (0, 2))
    with pytest.raises(ValueError, match="size must be >= 1"):
        band_mask(0, (0, 2))
    with pytest.raises(ValueError, match=r"delta must be square .* got 8x6.*\[\.\.\., :6, :6\]"):
        band_limit(torch.zeros(1, 1, 8, 6), (0, 2))
    with pytest.raises(ValueError, match=r"delta must have shape \(N, C, H, W\)"):
        band_limit(torch.zeros(1, 8, 8), (0, 2))
    with pytest.raises(TypeError, match="delta must be a floating tensor"):
        band_limit(torch.zeros(1, 1, 8, 8, dtype=torch.long), (0, 2))
