from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.distortions import PatchShuffle, patch_shuffle
from shapebias.distortions._patch_shuffle import random_permutations


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def reference_shuffle(image: np.ndarray, grid: int, order: np.ndarray) -> np.ndarray:
    """Per-image NumPy path: cut patches row-major, place patch order[k] at slot k."""
    _, height, width = image.shape
    ph, pw = height // grid, width // grid
    patches = [
        image[:, i * ph : (i + 1) * ph, j * pw : (j + 1) * pw]
        for i in range(grid)
        for j in range(grid)
    ]
    rows = [
        np.concatenate([patches[order[i * grid + j]] for j in range(grid)], 2) for i in range(grid)
    ]
    return np.concatenate(rows, 1)


@pytest.mark.parametrize("grid", [1, 2, 3, 4])
def test_matches_per_image_reference(grid):
    images = torch.rand(3, 2, 12, 12, generator=gen(1))
    out = patch_shuffle(images, grid, generator=gen(2))
    orders = random_permutations(3, grid * grid, generator=gen(2), device=images.device)
    for image, result, order in zip(images, out, orders, strict=True):
        expected = reference_shuffle(image.numpy(), grid, order.numpy())
        np.testing.assert_array_equal(result.numpy(), expected)


def test_grid_one_is_identity():
    images = torch.rand(2, 3, 7, 9)
    assert torch.equal(patch_shuffle(images, 1, generator=gen()), images)


@given(
    grid=st.integers(1, 4),
    cells=st.integers(1, 3),
    n=st.integers(1, 3),
    seed=st.integers(0, 2**31),
)
def test_keeps_pixel_multiset_and_patches(grid, cells, n, seed):
    size = grid * cells
    images = torch.rand(n, 2, size, size + grid, generator=gen(seed))
    out = patch_shuffle(images, grid, generator=gen(seed + 1))
    assert torch.equal(out.flatten(1).sort(1).values, images.flatten(1).sort(1).values)
    patches = lambda x: x.unfold(2, cells, cells).unfold(3, cells + 1, cells + 1)  # noqa: E731
    for a, b in zip(patches(images), patches(out), strict=True):
        flat_a = a.permute(1, 2, 0, 3, 4).reshape(grid * grid, -1)
        flat_b = b.permute(1, 2, 0, 3, 4).reshape(grid * grid, -1)
        key = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
        assert key(flat_a) == key(flat_b)


def test_permutations_are_uniform():
    orders = random_permutations(6000, 3, generator=gen(0), device=torch.device("cpu"))
    _, counts = torch.unique(orders, dim=0, return_counts=True)
    assert len(counts) == 6
    chi2 = float(((counts - 1000.0) ** 2 / 1000.0).sum())
    assert chi2 < 20.5  # 5 dof, p ~ 0.001


def test_each_image_gets_its_own_permutation():
    image = torch.arange(16.0).view(1, 1, 4, 4) / 16
    out = patch_shuffle(image.expand(8, 1, 4, 4), 4, generator=gen(3))
    assert len({tuple(o.flatten().tolist()) for o in out}) > 1


def test_batch_prefix_invariance():
    """An image's permutation depends only on its position, not on the batch size."""
    images = torch.rand(4, 3, 8, 8)
    batched = patch_shuffle(images, 2, generator=gen(4))
    assert torch.equal(patch_shuffle(images[:2], 2, generator=gen(4)), batched[:2])
    # A different image in slot 0 gets the same permutation.
    other = patch_shuffle(images.flip(0), 2, generator=gen(4))
    expected = patch_shuffle(images[3:], 2, generator=gen(4))
    assert torch.equal(other[0], expected[0])


def test_crop_option():
    images = torch.rand(2, 3, 10, 11)
    out = patch_shuffle(images, 3, crop=True, generator=gen())
    assert out.shape == (2, 3, 9, 9)
    crop = images[:, :, 0:9, 1:10]
    assert torch.equal(out.flatten(1).sort(1).values, crop.flatten(1).sort(1).values)


def test_gradcheck():
    images = torch.rand(2, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: patch_shuffle(x, 2, generator=gen(0)), (images,))


def test_bad_grid():
    images = torch.rand(1, 3, 10, 12)
    with pytest.raises(ValueError, match=r"grid=4 must divide the image size 10x12.*crop=True"):
        patch_shuffle(images, 4)
    with pytest.raises(ValueError, match="grid must be >= 1"):
        patch_shuffle(images, 0)
    with pytest.raises(ValueError, match="grid must be at most"):
        patch_shuffle(images, 11, crop=True)
    with pytest.raises(TypeError, match="grid must be an int"):
        patch_shuffle(images, 2.0)
    with pytest.raises(TypeError, match="grid must be an int"):
        PatchShuffle(2.5)


def test_bad_generator():
    with pytest.raises(TypeError, match=r"generator must be a torch\.Generator"):
        patch_shuffle(torch.rand(1, 3, 4, 4), 2, generator=0)


def test_memory_layouts_give_the_same_result():
    images = torch.rand(3, 3, 12, 24, generator=gen(5))
    expected = patch_shuffle(images[..., ::2].contiguous(), 4, generator=gen(6))
    assert torch.equal(patch_shuffle(images[..., ::2], 4, generator=gen(6)), expected)
    channels_last = images[..., ::2].contiguous(memory_format=torch.channels_last)
    assert torch.equal(patch_shuffle(channels_last, 4, generator=gen(6)), expected)
