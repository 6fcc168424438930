"""Square on a model that ignores part of the image: proposals there tie the margin."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from shapebias.attacks import square
from tests._models import linear_model, seeded_images
from tests.attacks._reference_autoattack import reference_square


class _LeftHalf(nn.Module):
    """A ReLU network on the left half of the image (max-pooled); the right half is never
    read, so a window there leaves the margin exactly as it was."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2)
        self.head = linear_model(num_classes=4, channels=3, size=5, seed=2).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left = torch.relu(self.pool(x[..., :, :5]) - 0.3)  # (N, 3, 5, 2): pad to the head's 5 x 5
        return self.head(torch.cat([left, left.new_zeros(*left.shape[:3], 3)], dim=3))


@pytest.mark.parametrize("norm,eps", [("linf", 8 / 255), ("l2", 0.5)])
def test_equal_margins_are_not_accepted(norm, eps):
    """Slip caught: ``>=`` for ``>`` when keeping a proposal, which walks the ignored half
    of the image around at every query."""
    model = _LeftHalf().eval()
    images = seeded_images(6, size=10).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    gen = torch.Generator().manual_seed(4)
    adv = square(model, images, labels, eps=eps, norm=norm, queries=50, generator=gen)
    expected, fooled = reference_square(
        model, images, labels, eps=eps, norm=norm, queries=50, p_init=0.8,
        generator=torch.Generator().manual_seed(4),
    )  # fmt: skip
    torch.testing.assert_close(adv, expected, atol=1e-10, rtol=0)
    # nobody is fooled: every sample runs all 50 queries in a batch that never shrinks,
    # so equal inputs give bitwise equal margins on any kernel and ties stay ties
    assert not bool(fooled.any())


@pytest.mark.parametrize("size", [5, 4])
def test_l2_windows_as_large_as_the_image(size):
    """Slip caught: ``>=`` for ``>`` when shrinking an L2 window that does not fit. At 5 x 5
    the first window (side 5) is the whole image and must stay so; at 4 x 4 the odd side
    5 does not fit and shrinks to 3."""
    model = linear_model(num_classes=4, channels=3, size=size, seed=1).double()
    images = seeded_images(4, size=size).double()
    with torch.no_grad():
        labels = model(images).argmax(1)
    kwargs = {"eps": 0.3, "norm": "l2", "queries": 6}
    adv = square(model, images, labels, generator=torch.Generator().manual_seed(2), **kwargs)
    expected, _ = reference_square(
        model, images, labels, p_init=0.8, generator=torch.Generator().manual_seed(2), **kwargs
    )
    torch.testing.assert_close(adv, expected, atol=1e-10, rtol=0)
