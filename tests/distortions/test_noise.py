from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from shapebias.distortions import PhaseScramble, UniformNoise, phase_scramble, uniform_noise


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_uniform_noise_bounds_and_distribution():
    images = torch.full((4, 3, 32, 32), 0.5)
    noise = uniform_noise(images, 0.25, generator=gen()) - 0.5
    assert float(noise.abs().max()) <= 0.25
    assert abs(float(noise.mean())) < 0.01
    assert abs(float(noise.var()) - 0.25**2 / 3) < 0.002  # variance of U(-w, w)


def test_uniform_noise_zero_width_is_identity_and_clips():
    images = torch.rand(2, 3, 8, 8)
    assert torch.equal(uniform_noise(images, 0.0, generator=gen()), images)
    extreme = uniform_noise(torch.ones(1, 3, 8, 8), 1.0, generator=gen())
    assert float(extreme.max()) <= 1.0 and float(extreme.min()) >= 0.0


def test_phase_scramble_keeps_amplitude_spectrum():
    images = 0.4 + 0.2 * torch.rand(2, 3, 16, 15, dtype=torch.float64, generator=gen(1))
    out = phase_scramble(images, 0.3, generator=gen(2))  # small width: no clipping
    assert float(out.min()) > 0 and float(out.max()) < 1
    np.testing.assert_allclose(
        np.abs(np.fft.fft2(out.numpy())), np.abs(np.fft.fft2(images.numpy())), atol=1e-9
    )
    assert not torch.allclose(out, images)


def test_phase_noise_is_shared_across_channels_and_bounded():
    images = 0.4 + 0.2 * torch.rand(1, 3, 16, 16, dtype=torch.float64, generator=gen(1))
    out = phase_scramble(images, 0.5, generator=gen(2))
    change = np.angle(np.fft.fft2(out.numpy()) / np.fft.fft2(images.numpy()))
    np.testing.assert_allclose(change[0, 0], change[0, 1], atol=1e-8)
    assert np.abs(change).max() <= 0.5 + 1e-8


def test_full_phase_scramble_destroys_structure():
    images = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    images[..., 8:24, 8:24] = 1.0
    out = phase_scramble(images, math.pi, generator=gen(3))
    correlation = np.corrcoef(out.flatten().numpy(), images.flatten().numpy())[0, 1]
    assert abs(correlation) < 0.5


def test_gradcheck():
    images = (0.4 + 0.2 * torch.rand(1, 2, 6, 6, dtype=torch.float64)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: uniform_noise(x, 0.05, generator=gen()), (images,))
    assert torch.autograd.gradcheck(lambda x: phase_scramble(x, 0.2, generator=gen()), (images,))


def test_bad_widths():
    images = torch.rand(1, 3, 8, 8)
    with pytest.raises(ValueError, match="width must be >= 0 and <= 1"):
        uniform_noise(images, 1.5)
    with pytest.raises(ValueError, match=r"width must be >= 0 and <= 3\.14"):
        phase_scramble(images, 4.0)
    with pytest.raises(ValueError, match="width must be >= 0"):
        UniformNoise(-0.1)
    with pytest.raises(ValueError, match="width must be >= 0"):
        PhaseScramble(-0.1)


def test_phase_noise_is_uniform_on_the_full_width():
    # A noise of the wrong width (say [-w/2, w/2]) or not uniform would keep the bound above.
    width = 0.8
    images = 0.4 + 0.2 * torch.rand(1, 1, 64, 64, dtype=torch.float64, generator=gen(4))
    out = phase_scramble(images, width, generator=gen(5))
    change = np.angle(np.fft.rfft2(out.numpy()) / np.fft.rfft2(images.numpy()))[0, 0]
    free = change[1:32, 1:32].ravel()  # bins that are not their own conjugate
    assert np.abs(free).max() <= width + 1e-8 and np.abs(free).max() > 0.97 * width
    # U(-w, w): mean |x| = w / 2, and a quarter of the mass in each quarter of the range
    assert abs(np.abs(free).mean() - width / 2) < 0.03 * width
    quarters = np.histogram(free, bins=4, range=(-width, width))[0] / free.size
    np.testing.assert_allclose(quarters, 0.25, atol=0.04)
