"""to_8bit_levels: the rounding that makes rendered images the same on every CPU."""

import numpy as np
import torch

from shapebias.data._levels import LEVELS, to_8bit_levels


def test_every_level_maps_to_itself_exactly_and_as_float32_division():
    levels = np.arange(256) / 255.0  # float64 k / 255
    out = to_8bit_levels(levels)
    assert out.dtype == torch.float32
    assert torch.equal(out, torch.arange(256, dtype=torch.float32) / 255)


def test_rounds_to_the_nearest_level_and_clips():
    half = 0.5 / LEVELS
    values = np.array([-0.3, half - 1e-12, half + 1e-12, 1 - half + 1e-12, 7.0, 100.4 / 255])
    expected = torch.tensor([0.0, 0.0, 1.0, 255.0, 255.0, 100.0]) / 255
    assert torch.equal(to_8bit_levels(values), expected)


def test_accepts_tensors_and_returns_a_fresh_tensor():
    image = torch.rand(3, 4, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    before = image.clone()
    out = to_8bit_levels(image)
    out.add_(1)
    assert torch.equal(image, before)
    assert out.shape == image.shape
    assert torch.equal(to_8bit_levels(image) * 255, (image * 255).round().float())
