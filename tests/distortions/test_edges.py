from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.feature import canny

from shapebias.distortions import Edges, edges


def square(size=32, dtype=torch.float32):
    images = torch.zeros(2, 3, size, size, dtype=dtype)
    images[0, :, 8:24, 8:24] = 1.0
    images[1, :, 4:12, 4:28] = 0.7
    return images


def test_matches_skimage_canny_on_luminance():
    images = square()
    out = edges(images, sigma=1.5)
    gray = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]).double()
    for result, image in zip(out, gray, strict=True):
        expected = 1.0 - canny(image.numpy(), sigma=1.5).astype(np.float64)
        for channel in result:
            np.testing.assert_array_equal(channel.numpy(), expected)


def test_binary_dark_lines_on_white_only_near_the_outline():
    out = edges(square(), sigma=1.0)
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert float(out[0, 0, 12:20, 12:20].min()) == 1.0  # flat interior: no edge
    assert float(out[0, 0, 6:10, 16].min()) == 0.0  # the top edge


def test_thresholds_and_no_gradient():
    images = square().requires_grad_(True)
    strict = edges(images, sigma=1.0, low_threshold=0.5, high_threshold=0.9)
    loose = edges(images, sigma=1.0, low_threshold=0.01, high_threshold=0.05)
    assert (strict == 0).sum() <= (loose == 0).sum()
    assert not strict.requires_grad


def test_bad_arguments():
    images = square()
    with pytest.raises(ValueError, match="sigma must be > 0"):
        edges(images, sigma=0)
    with pytest.raises(ValueError, match="low_threshold must not exceed high_threshold"):
        edges(images, low_threshold=0.5, high_threshold=0.1)
    with pytest.raises(ValueError, match="high_threshold must be >= 0"):
        Edges(high_threshold=-1)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        edges(torch.rand(1, 2, 16, 16))
