"""Patch shuffling (Zhang & Zhu 2019): destroy global shape, keep local texture."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shapebias._validation import check_bool, check_int
from shapebias.distortions._checks import (
    check_distortion_inputs,
    per_image_or_batch,
    pick_generator,
)

__all__ = ["PatchShuffle", "patch_shuffle", "random_permutations"]


def random_permutations(
    n: int, size: int, *, generator: torch.Generator | None, device: torch.device
) -> torch.Tensor:
    """``n`` independent uniform permutations of ``range(size)``, as an int64 ``(n, size)``.

    Argsort of float64 uniforms: ties (which would bias the draw) have probability
    about ``size**2 / 2**54``.
    """
    if generator is not None:
        device = generator.device
    keys = torch.rand(n, size, generator=generator, device=device, dtype=torch.float64)
    return keys.argsort(dim=1)


def _check_grid(grid: Any, images: torch.Tensor, crop: bool) -> int:
    check_bool(crop, "crop")
    grid = check_int(grid, "grid", low=1)
    height, width = images.shape[-2:]
    if grid > min(height, width):
        raise ValueError(f"grid must be at most min(H, W) = {min(height, width)}, got {grid}.")
    if not crop and (height % grid or width % grid):
        raise ValueError(
            f"grid={grid} must divide the image size {height}x{width}; resize the images, "
            f"pick a grid that divides both, or pass crop=True to shuffle the centred "
            f"{height // grid * grid}x{width // grid * grid} crop."
        )
    return grid


def _centre_crop(images: torch.Tensor, grid: int) -> torch.Tensor:
    height, width = images.shape[-2:]
    top, left = (height % grid) // 2, (width % grid) // 2
    return images[..., top : top + height // grid * grid, left : left + width // grid * grid]


def patch_shuffle(
    images: torch.Tensor,
    grid: int,
    *,
    crop: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cut each image into ``grid x grid`` equal patches and reassemble them in random order.

    Each image gets its own uniformly random permutation drawn from ``generator``; all
    images are shuffled together by one ``index_select`` of patch rows over the batch
    (no Python loop over images; one read and one write of the batch). Each output pixel
    is an input pixel, so the op is differentiable (a permutation) and the multiset of
    pixel values of every image is kept.

    Args:
        images: ``(N, C, H, W)`` floating images in ``[0, 1]``.
        grid: patches per side, ``>= 1`` (the paper uses 2, 4 and 8); ``grid=1`` copies.
        crop: when ``grid`` does not divide ``H`` or ``W``, shuffle the centred crop of
            size ``(H // grid * grid, W // grid * grid)`` and return that smaller image.
            Without it such a ``grid`` is an error.
        generator: source of the permutations (on the images' device).

    Returns:
        Shuffled images, same dtype and device; same shape unless ``crop`` cut it.

    Shape:
        ``(N, C, H, W) -> (N, C, H, W)``; with ``crop``,
        ``(N, C, H // grid * grid, W // grid * grid)``.

    Raises:
        ValueError: ``grid < 1``, larger than the image, or not dividing ``H``/``W``
            without ``crop``.

    Example:
        >>> import torch
        >>> from shapebias.distortions import patch_shuffle
        >>> x = torch.rand(2, 3, 32, 32)
        >>> y = patch_shuffle(x, 4, generator=torch.Generator().manual_seed(0))
        >>> torch.equal(x.flatten(1).sort(1).values, y.flatten(1).sort(1).values)
        True

    References:
        Zhang & Zhu, "Interpreting Adversarially Trained Convolutional Neural Networks",
        ICML 2019, Sec. 4.1.
    """
    check_distortion_inputs(images, generator)
    grid = _check_grid(grid, images, crop)
    images = _centre_crop(images, grid)
    n, channels, height, width = images.shape
    patch_w = width // grid
    sources = random_permutations(n, grid * grid, generator=generator, device=images.device)
    rows = _source_rows(sources.to(images.device), channels, height, grid)
    # One index_select of whole patch rows (contiguous runs of patch_w pixels).
    patch_rows = images.reshape(-1, patch_w)
    return patch_rows.index_select(0, rows).view(n, channels, height, width)


def _source_rows(sources: torch.Tensor, channels: int, height: int, grid: int) -> torch.Tensor:
    """For each output patch row of the ``(N * C * H * grid, patch_w)`` view, its source row.

    In that view, row ``((b * C + c) * H + i * patch_h + y) * grid + j`` holds pixel row
    ``y`` of patch ``(i, j)`` of channel ``c`` of image ``b``; output patch ``k`` reads
    the same rows of source patch ``sources[b, k]``.
    """
    n = sources.shape[0]
    patch_h = height // grid
    sources = sources.view(n, 1, grid, 1, grid)
    y = torch.arange(patch_h, device=sources.device).view(1, 1, 1, patch_h, 1)
    image_channel = torch.arange(n * channels, device=sources.device).view(n, channels, 1, 1, 1)
    rows = (image_channel * height + sources // grid * patch_h + y) * grid + sources % grid
    return rows.view(-1)


class PatchShuffle(nn.Module):
    """Module twin of :func:`patch_shuffle`; accepts one image ``(C, H, W)`` or a batch.

    A ``generator`` given to ``forward`` overrides the one stored here.

    Shape:
        ``(N, C, H, W)`` or ``(C, H, W)``, kept (unless ``crop`` cuts it).

    Example:
        >>> import torch
        >>> from shapebias.distortions import PatchShuffle
        >>> shuffle = PatchShuffle(2, generator=torch.Generator().manual_seed(0))
        >>> shuffle(torch.rand(3, 8, 8)).shape
        torch.Size([3, 8, 8])
    """

    def __init__(
        self, grid: int, *, crop: bool = False, generator: torch.Generator | None = None
    ) -> None:
        super().__init__()
        self.grid = check_int(grid, "grid", low=1)
        self.crop = check_bool(crop, "crop")
        self.generator = generator

    def forward(
        self, images: torch.Tensor, *, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return per_image_or_batch(
            patch_shuffle,
            images,
            self.grid,
            crop=self.crop,
            generator=pick_generator(generator, self.generator),
        )

    def extra_repr(self) -> str:
        return f"grid={self.grid}, crop={self.crop}"
