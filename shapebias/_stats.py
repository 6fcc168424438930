"""Small statistics shared by saliency and metrics: per-sample rank correlation."""

from __future__ import annotations

import torch

__all__ = ["rank_correlation", "ranks"]


def ranks(values: torch.Tensor) -> torch.Tensor:
    """Average ranks (1-based, ties share their mean rank) along the last dimension.

    Example:
        >>> import torch
        >>> ranks(torch.tensor([[10.0, 30.0, 20.0, 20.0]])).tolist()
        [[1.0, 4.0, 2.5, 2.5]]
    """
    order = values.argsort(dim=-1, stable=True)
    sorted_values = values.gather(-1, order)
    position = torch.arange(1, values.shape[-1] + 1, dtype=values.dtype, device=values.device)
    position = position.expand_as(values)
    # Runs of equal values share the mean of their positions.
    new_run = torch.ones_like(sorted_values, dtype=torch.bool)
    new_run[..., 1:] = sorted_values[..., 1:] != sorted_values[..., :-1]
    run_id = new_run.cumsum(-1) - 1
    run_sum = torch.zeros_like(position).scatter_add_(-1, run_id, position)
    run_count = torch.zeros_like(position).scatter_add_(-1, run_id, torch.ones_like(position))
    mean_rank = (run_sum / run_count.clamp_min(1)).gather(-1, run_id)
    return torch.empty_like(mean_rank).scatter_(-1, order, mean_rank)


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation per sample between two batches, flattened after dim 0.

    Returns a ``(N,)`` tensor; a sample whose values are all equal in ``a`` or ``b`` has
    no defined correlation and gets NaN.

    Example:
        >>> import torch
        >>> a = torch.tensor([[1.0, 2.0, 3.0]])
        >>> rank_correlation(a, -a).tolist()
        [-1.0]
    """
    ra = ranks(a.flatten(1).to(torch.float64))
    rb = ranks(b.flatten(1).to(torch.float64))
    ra = ra - ra.mean(1, keepdim=True)
    rb = rb - rb.mean(1, keepdim=True)
    denominator = (ra.square().sum(1) * rb.square().sum(1)).sqrt()
    correlation = (ra * rb).sum(1) / denominator
    return correlation.to(a.dtype if a.is_floating_point() else torch.float64)
