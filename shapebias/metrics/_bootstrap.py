"""Seeded percentile bootstrap over outcome counts, shared by every metric.

Every statistic in :mod:`shapebias.metrics` (accuracy, relative accuracy, shape bias,
error consistency) depends on the data only through how many images fall into each of
a few outcome cells (for relative accuracy: right/wrong on clean x right/wrong on the
distorted copy). Resampling ``N`` images with replacement therefore changes the cell
counts exactly as one draw from ``Multinomial(N, observed cell shares)``. Drawing those
counts directly gives the same bootstrap distribution as resampling image indices, at a
cost of ``O(cells)`` per replicate instead of ``O(N)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

__all__ = ["Estimate", "estimate", "resample_counts", "share"]


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A point estimate with a percentile bootstrap interval.

    Attributes:
        value: the statistic on the observed data (NaN where it is undefined, e.g. a
            ratio with nothing in its denominator).
        low: lower bound of the interval (NaN when no bootstrap was run).
        high: upper bound of the interval.

    Example:
        >>> from shapebias.metrics import Estimate
        >>> e = Estimate(0.75, 0.6, 0.9)
        >>> float(e), e.to_dict()
        (0.75, {'value': 0.75, 'low': 0.6, 'high': 0.9})
    """

    value: float
    low: float
    high: float

    def __float__(self) -> float:
        return self.value

    def to_dict(self) -> dict[str, float | None]:
        """``{"value", "low", "high"}`` as plain floats, NaN as ``None`` (strict JSON)."""
        return {
            key: None if math.isnan(number) else number
            for key, number in dataclasses.asdict(self).items()
        }


def resample_counts(counts: np.ndarray, num_samples: int, seed: int) -> np.ndarray:
    """Bootstrap replicates of outcome-cell counts: ``(num_samples, cells)`` floats.

    Equivalent in distribution to resampling the ``counts.sum()`` items with replacement
    and recounting; uses its own seeded :class:`numpy.random.Generator`.
    """
    total = int(counts.sum())
    rng = np.random.default_rng(seed)
    shares = counts / total
    return rng.multinomial(total, shares, size=num_samples).astype(np.float64)


def estimate(
    statistic: Callable[[np.ndarray], np.ndarray],
    counts: np.ndarray,
    resampled: np.ndarray,
    confidence: float,
) -> Estimate:
    """Point value of ``statistic`` on ``counts`` and its percentile interval on ``resampled``.

    ``statistic`` maps a ``(B, cells)`` array of counts to ``(B,)`` values. Replicates
    where it is undefined (NaN, e.g. an empty denominator) are left out of the quantiles.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        value = float(statistic(counts[None].astype(np.float64))[0])
        replicates = statistic(resampled) if len(resampled) else np.empty(0)
    replicates = replicates[~np.isnan(replicates)]
    if math.isnan(value) or replicates.size == 0:
        return Estimate(value, math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    return Estimate(value, float(low), float(high))


def share(numerator: list[int], denominator: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """Statistic: count in the ``numerator`` cells over count in the ``denominator`` cells."""

    def statistic(counts: np.ndarray) -> np.ndarray:
        return counts[:, numerator].sum(1) / counts[:, denominator].sum(1)

    return statistic
