"""Input checks specific to the metrics (the generic ones live in ``shapebias._validation``)."""

from __future__ import annotations

from typing import Any

import torch

from shapebias._validation import check_int, check_open_unit

__all__ = [
    "CUE_CONFLICT_LABELS",
    "MAX_BOOTSTRAP",
    "check_bootstrap",
    "check_outcomes",
    "require_samples",
]


# The most bootstrap replicates a metric draws: 10^6 x 48 cells (16-class shape bias) is
# 384 MB of float64 counts; beyond that a typo (10**9) would exhaust memory, not finish.
MAX_BOOTSTRAP = 1_000_000


def check_bootstrap(confidence: Any, num_bootstrap: Any, seed: Any) -> None:
    """Check the bootstrap settings shared by every metric."""
    check_open_unit(confidence, "confidence", "0.95")
    check_int(num_bootstrap, "num_bootstrap", low=0)
    if num_bootstrap > MAX_BOOTSTRAP:
        raise ValueError(
            f"num_bootstrap must be <= {MAX_BOOTSTRAP:,}, got {num_bootstrap:,}: every replicate "
            "holds all outcome cells in memory (num_bootstrap x cells float64), and the "
            "Monte-Carlo error of the interval bounds shrinks only as 1/sqrt(num_bootstrap); "
            "1,000 to 10,000 replicates are the usual choice."
        )
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


CUE_CONFLICT_LABELS = ("shape_labels", "texture_labels")
"""The label fields of cue-conflict batches ``(images, shape_labels, texture_labels)``."""
