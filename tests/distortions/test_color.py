from __future__ import annotations

import pytest
import torch

from shapebias.distortions import Contrast, contrast, grayscale


def test_grayscale_is_bt601_luma_and_keeps_channels():
    images = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    out = grayscale(images)
    luma = 0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]
    for channel in range(3):
        torch.testing.assert_close(out[:, channel], luma)
    one = torch.rand(2, 1, 8, 8)
    assert torch.equal(grayscale(one), one)


def test_grayscale_rejects_other_channel_counts():
    with pytest.raises(ValueError, match="1 or 3 channels"):
        grayscale(torch.rand(1, 4, 8, 8))


def test_contrast_formula_and_limits():
    images = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(contrast(images, 0.2), 0.2 * images + 0.4)
    assert torch.equal(contrast(images, 1.0), images)
    assert torch.equal(contrast(images, 0.0), torch.full_like(images, 0.5))
    high = contrast(images, 3.0)
    assert float(high.min()) == 0.0 and float(high.max()) == 1.0


def test_gradcheck():
    images = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: contrast(x, 0.5), (images,))
    assert torch.autograd.gradcheck(grayscale, (images * 0.9,))


def test_bad_factor():
    with pytest.raises(ValueError, match="factor must be >= 0"):
        contrast(torch.rand(1, 3, 4, 4), -0.5)
    with pytest.raises(TypeError, match="factor must be a real number"):
        Contrast(None)
