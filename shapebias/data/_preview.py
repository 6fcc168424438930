"""A grid of images with titles, as a matplotlib figure (matplotlib imported lazily)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from shapebias._validation import check_int

__all__ = ["image_grid"]


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            "preview figures need matplotlib; install it with pip install 'shapebias[plot]'."
        ) from error
    return plt


def image_grid(images: torch.Tensor, titles: Sequence[str], *, columns: int = 8) -> Any:
    """Plot ``(N, 3, H, W)`` images in [0, 1] on a grid with one title each."""
    check_int(columns, "columns", low=1)
    plt = _pyplot()
    columns = min(columns, len(images))
    rows = math.ceil(len(images) / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(1.6 * columns, 1.8 * rows), squeeze=False, layout="constrained"
    )
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, image, title in zip(axes.flat, images, titles, strict=False):
        axis.imshow(image.permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
        axis.set_title(title, fontsize=7)
    return figure
