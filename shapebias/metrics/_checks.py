"""Input checks specific to the metrics (the generic ones live in ``shapebias._validation``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch

from shapebias._validation import check_images, check_int, check_labels, check_real

__all__ = [
    "check_bootstrap",
    "check_outcomes",
    "iterate_cue_conflict",
    "require_samples",
]


def check_bootstrap(confidence: Any, num_bootstrap: Any, seed: Any) -> None:
    """Check the bootstrap settings shared by every metric."""
    check_real(confidence, "confidence", low=0.0, high=1.0, low_inclusive=False)
    if confidence >= 1.0:
        raise ValueError(f"confidence must be < 1 (e.g. 0.95), got {confidence:g}.")
    check_int(num_bootstrap, "num_bootstrap", low=0)
    check_int(seed, "seed")


def require_samples(total: int, name: str) -> None:
    """Raise the empty-data error once the whole dataset has been read."""
    if total == 0:
        raise ValueError(f"{name} must hold at least one sample, got an empty dataset.")


def check_outcomes(values: Any, name: str) -> torch.Tensor:
    """Check per-sample right/wrong outcomes: a 1-D bool or 0/1 tensor; return it as bool."""
    if not isinstance(values, torch.Tensor):
        raise TypeError(
            f"{name} must be a 1-D torch.Tensor of booleans (True = classified right), "
            f"got {type(values).__name__}. Use torch.as_tensor({name})."
        )
    if values.ndim != 1 or values.numel() == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D tensor, one outcome per sample, "
            f"got shape {tuple(values.shape)}."
        )
    if values.dtype == torch.bool:
        return values
    binary = not values.is_floating_point() and not values.is_complex()
    if not binary or not bool(((values == 0) | (values == 1)).all()):
        raise ValueError(
            f"{name} must hold booleans or the integers 0 and 1, got {values.dtype} values "
            f"such as {values[:4].tolist()}. Compare predictions: predictions == labels."
        )
    return values.bool()


def _check_cue_conflict_batch(
    images: Any, shape_labels: Any, texture_labels: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    check_images(images)
    check_labels(shape_labels, images, "shape_labels")
    check_labels(texture_labels, images, "texture_labels")
    return images, shape_labels, texture_labels


def iterate_cue_conflict(
    data: Any, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield checked ``(images, shape_labels, texture_labels)`` batches.

    ``data`` is a tuple of three tensors (checked once, then cut into ``batch_size``
    chunks) or an iterable (a :class:`~torch.utils.data.DataLoader`) of such triples,
    each checked as it comes.
    """
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], torch.Tensor):
        if len(data) != 3:
            raise ValueError(
                "cue-conflict data must be (images, shape_labels, texture_labels), "
                f"got a tuple of {len(data)} tensors."
            )
        images, shape_labels, texture_labels = _check_cue_conflict_batch(*data)
        for start in range(0, images.shape[0], batch_size):
            stop = start + batch_size
            yield images[start:stop], shape_labels[start:stop], texture_labels[start:stop]
        return
    if not isinstance(data, Iterable):
        raise TypeError(
            "data must be a DataLoader (or any iterable) of (images, shape_labels, "
            "texture_labels) batches or a tuple of three tensors, "
            f"got {type(data).__name__}."
        )
    for batch in data:
        if not isinstance(batch, (tuple, list)) or len(batch) < 3:
            raise TypeError(
                "data must yield (images, shape_labels, texture_labels) triples, got a "
                f"batch of type {type(batch).__name__}"
                + (f" with {len(batch)} entries." if isinstance(batch, (tuple, list)) else ".")
            )
        yield _check_cue_conflict_batch(batch[0], batch[1], batch[2])
