"""The one batch iterator: over DataLoaders (any iterable of batches) and tensor tuples."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from shapebias._validation import check_images, check_labels

__all__ = ["batch_count", "iterate_batches"]


def iterate_batches(
    data: Any, batch_size: int, *, label_names: tuple[str, ...] = ("labels",)
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Yield checked ``(images, *labels)`` batches from tensors or from any iterable of batches.

    ``data`` is a tuple ``(images, labels, ...)`` of tensors, checked once and cut into
    ``batch_size`` chunks; a :class:`~torch.utils.data.Dataset` of ``(image, label, ...)``
    items, batched in order by ``batch_size`` (a DataLoader without shuffling or
    workers); or an iterable (a :class:`~torch.utils.data.DataLoader`) of such tuples,
    each checked as it comes. Extra entries of a batch beyond ``1 + len(label_names)``
    are ignored.

    Args:
        data: tensors, a Dataset or an iterable of batches.
        batch_size: batch size for tensor and Dataset input.
        label_names: names of the label tensors after the images, used in error messages
            (``("shape_labels", "texture_labels")`` for cue-conflict data).

    Example:
        >>> import torch
        >>> from shapebias._batches import iterate_batches
        >>> data = (torch.rand(5, 3, 4, 4), torch.zeros(5, dtype=torch.long))
        >>> [images.shape[0] for images, labels in iterate_batches(data, 2)]
        [2, 2, 1]
    """
    width = 1 + len(label_names)
    layout = "(" + ", ".join(("images", *label_names)) + ")"
    if is_tensor_tuple(data):
        if len(data) != width:
            raise ValueError(f"data must be {layout}, got a tuple of {len(data)} tensors.")
        batch = _checked(data, label_names)
        for start in range(0, batch[0].shape[0], batch_size):
            yield tuple(t[start : start + batch_size] for t in batch)
        return
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch_size)
    if not isinstance(data, Iterable):
        raise TypeError(
            f"data must be a DataLoader (or any iterable) of {layout} batches, a Dataset of "
            f"{layout} items or a tuple {layout} of tensors, got {type(data).__name__}."
        )
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < width:
            raise TypeError(
                f"data must yield {layout} tuples, got a batch of type {type(batch).__name__}"
                + (f" with {len(batch)} entries." if isinstance(batch, (tuple, list)) else ".")
            )
        yield _checked(batch[:width], label_names)


def is_tensor_tuple(data: Any) -> bool:
    """Whether ``data`` is a tuple of tensors ``(images, labels, ...)`` rather than batches."""
    return isinstance(data, (tuple, list)) and bool(data) and isinstance(data[0], torch.Tensor)


def _checked(batch: Any, label_names: tuple[str, ...]) -> tuple[torch.Tensor, ...]:
    images, *labels = batch
    check_images(images)
    for name, label in zip(label_names, labels, strict=True):
        check_labels(label, images, name)
    return (images, *labels)


def batch_count(data: Any, batch_size: int) -> int | None:
    """How many batches :func:`iterate_batches` will yield, or ``None`` when unknown."""
    if is_tensor_tuple(data):
        return -(-data[0].shape[0] // batch_size)
    if isinstance(data, Dataset):
        data = DataLoader(data, batch_size=batch_size)
    try:
        return len(data)
    except TypeError:
        return None
