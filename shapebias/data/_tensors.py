"""A map-style dataset of tuples as stacked tensors (the one "dataset to tensors")."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["dataset_tensors"]


def dataset_tensors(dataset: Any, indices: Iterable[int] | None = None) -> tuple[torch.Tensor, ...]:
    """Materialise (part of) a map-style dataset of tuples into one tensor per field.

    Tensor fields (images) are stacked; other fields (int labels) become one tensor
    each (``int64`` for ints).

    Args:
        dataset: indexable with ``len``, each item a tuple such as ``(image, label)``.
        indices: the items to take, in order (default: all).

    Returns:
        ``(images, labels, ...)``: one tensor per field of the items.

    Raises:
        ValueError: no item was selected.

    Example:
        >>> from shapebias.data import ShapeTextureDataset, dataset_tensors
        >>> images, labels = dataset_tensors(ShapeTextureDataset("test", size=3, image_size=16))
        >>> tuple(images.shape), labels.dtype
        ((3, 3, 16, 16), torch.int64)
    """
    chosen = range(len(dataset)) if indices is None else indices
    items = [dataset[i] for i in chosen]
    if not items:
        raise ValueError("dataset_tensors needs at least one item, got an empty selection.")
    return tuple(
        torch.stack(column) if isinstance(column[0], torch.Tensor) else torch.tensor(column)
        for column in zip(*items, strict=True)
    )
