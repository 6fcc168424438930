from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from shapebias.distortions import HighPass, LowPass, high_pass, low_pass


def mid_range(n=2, size=(16, 20), seed=0) -> torch.Tensor:
    """Images in [0.3, 0.7]: ideal-filter ringing never reaches the clip bounds."""
    g = torch.Generator().manual_seed(seed)
    return 0.3 + 0.4 * torch.rand(n, 3, *size, generator=g, dtype=torch.float64)


def radial_power(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Power of each full-FFT bin and its centred-spectrum radius (NumPy, from scratch)."""
    spectrum = np.fft.fftshift(np.fft.fft2(images.numpy()), axes=(-2, -1))
    h, w = images.shape[-2:]
    yy, xx = np.meshgrid(np.arange(h) - h // 2, np.arange(w) - w // 2, indexing="ij")
    return np.abs(spectrum) ** 2, np.hypot(yy, xx)


@pytest.mark.parametrize("radius", [0, 2, 4.5, 7])
def test_ideal_low_pass_removes_power_above_cutoff(radius):
    images = mid_range()
    out = low_pass(images, radius=radius)
    assert float(out.min()) > 0.0 and float(out.max()) < 1.0  # no clipping happened
    power, distance = radial_power(out)
    original, _ = radial_power(images)
    above, below = distance > radius, distance <= radius
    assert power[..., above].max() < 1e-18 * original.sum()
    np.testing.assert_allclose(power[..., below], original[..., below], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("radius", [0, 3])
def test_ideal_high_pass_keeps_only_power_above_cutoff(radius):
    images = mid_range()
    out = high_pass(images, radius=radius) - 0.5
    power, distance = radial_power(out)
    original, _ = radial_power(images)
    assert power[..., distance <= radius].max() < 1e-18 * original.sum()
    above = distance > radius
    np.testing.assert_allclose(power[..., above], original[..., above], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.5])
def test_gaussian_matches_scipy(sigma):
    images = mid_range(size=(24, 24))
    expected = ndimage.gaussian_filter(images.numpy(), sigma=(0, 0, sigma, sigma), mode="mirror")
    np.testing.assert_allclose(low_pass(images, sigma=sigma).numpy(), expected, atol=1e-12)


def test_gaussian_low_plus_high_is_image():
    images = mid_range()
    low, high = low_pass(images, sigma=1.0), high_pass(images, sigma=1.0)
    torch.testing.assert_close(low + high - 0.5, images)


def test_gaussian_stays_in_range_without_clipping():
    images = torch.randint(0, 2, (2, 3, 16, 16)).double()
    out = low_pass(images, sigma=2.0)
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.parametrize("options", [{"sigma": 1.0}, {"radius": 2}])
def test_gradcheck(options):
    images = mid_range(1, (6, 6))[:, :1].requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: low_pass(x, **options), (images,), fast_mode=True)
    assert torch.autograd.gradcheck(lambda x: high_pass(x, **options), (images,), fast_mode=True)


def test_batch_invariance():
    images = mid_range(4)
    for fn in (low_pass, high_pass):
        whole = fn(images, sigma=1.0)
        torch.testing.assert_close(fn(images[1:2], sigma=1.0), whole[1:2])


def test_bad_arguments():
    images = torch.rand(1, 3, 16, 16)
    with pytest.raises(TypeError, match="exactly one of sigma"):
        low_pass(images)
    with pytest.raises(TypeError, match="exactly one of sigma"):
        high_pass(images, sigma=1, radius=2)
    with pytest.raises(TypeError, match="exactly one of sigma"):
        LowPass()
    with pytest.raises(ValueError, match="sigma must be > 0"):
        low_pass(images, sigma=0)
    with pytest.raises(ValueError, match="radius must be >= 0"):
        HighPass(radius=-1)
    with pytest.raises(ValueError, match="too wide for images of size 16x16"):
        low_pass(images, sigma=5)
