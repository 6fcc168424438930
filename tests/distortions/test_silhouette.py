from __future__ import annotations

import pytest
import torch

from shapebias.distortions import Silhouette, silhouette


def test_bool_and_soft_masks():
    images = torch.rand(2, 3, 5, 5, dtype=torch.float64)
    masks = torch.rand(2, 5, 5, dtype=torch.float64) > 0.5
    out = silhouette(images, masks)
    expected = torch.where(masks, 0.0, 1.0).unsqueeze(1).expand(2, 3, 5, 5).double()
    assert torch.equal(out, expected) and out.dtype == images.dtype
    soft = torch.rand(2, 1, 5, 5, dtype=torch.float64)
    torch.testing.assert_close(
        silhouette(images, soft, foreground=0.2, background=0.9),
        (0.9 - 0.7 * soft).expand(2, 3, 5, 5),
    )


def test_module_single_image_and_batch():
    images, masks = torch.rand(2, 3, 4, 4), torch.rand(2, 4, 4) > 0.5
    module = Silhouette(foreground=1.0, background=0.0)
    assert torch.equal(module(images, masks), silhouette(images, masks, foreground=1, background=0))
    assert torch.equal(module(images[0], masks[0]), module(images, masks)[0])


def test_bad_masks():
    images = torch.rand(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"masks must have shape \(2, 1, 4, 4\)"):
        silhouette(images, torch.ones(2, 3, 4, 4))
    with pytest.raises(TypeError, match="masks must be bool or floating"):
        silhouette(images, torch.ones(2, 4, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"masks must lie in \[0, 1\]"):
        silhouette(images, torch.full((2, 4, 4), 2.0))
    with pytest.raises(TypeError, match=r"masks must be a torch\.Tensor"):
        silhouette(images, None)
    with pytest.raises(ValueError, match="foreground must be >= 0 and <= 1"):
        Silhouette(foreground=2)
