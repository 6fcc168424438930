"""Crossed seeds x images inference for a seed-paired difference: variance components, t.

Every seed's models are evaluated on the same test images, so the per-(seed, image) paired
difference ``y[s, i]`` (AT minus baseline of seed ``s`` on image ``i``) follows a crossed
two-way random-effects model::

    y[s, i] = mu + a[s] + b[i] + e[s, i]

with a seed effect ``a`` (training randomness), an image effect ``b`` *shared by every seed*
(the image favours one model whatever the seed) and a residual ``e``. The estimate, the
grand mean of ``y``, has variance ``var(a)/S + var(b)/N + var(e)/(S N)``. With the mean
squares of the seed rows, image columns and residual of the ``S x N`` table
(``E[MS_seed] = var(e) + N var(a)``, ``E[MS_image] = var(e) + S var(b)``,
``E[MS_res] = var(e)``) an unbiased estimate of that variance is
``(MS_seed + MS_image - MS_res) / (S N)``; the image term ``MS_image - MS_res`` is
truncated at 0 (a negative estimate of ``var(b)``), so the estimate never falls below the
seed term ``MS_seed / (S N)``, the exact one-sample variance of the ``S`` seed means. Its
degrees of freedom come from Satterthwaite's approximation, and the interval uses the
``t`` quantile: with seeds dominating the degrees of freedom are ~``S - 1`` (a t interval
over the seeds), with shared images dominating they are ~``N - 1``.

A ratio statistic (``sum(values) / sum(denominator)`` per seed, e.g. relative accuracy or
shape bias) is linearised per item (delta method): each model's per-item pseudo-value
``theta + (v_i - theta d_i) / mean(d)`` averages to exactly ``theta`` over the items, so
the same decomposition applies to the pseudo-values.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from scipy import stats

__all__ = [
    "Decomposition",
    "decompose",
    "pseudo_values",
    "sign_flip_p",
    "t_interval",
]

# Exact sign-flip enumeration up to this many seeds (2**16 patterns); Monte Carlo above.
_MAX_EXACT_SEEDS = 16
_SIGN_FLIP_DRAWS = 1 << 16


@dataclasses.dataclass(frozen=True)
class Decomposition:
    """Mean squares of an ``S x N`` table and the variance of its grand mean.

    Attributes:
        value: the grand mean.
        standard_error: the estimated standard error of the grand mean.
        degrees_of_freedom: Satterthwaite degrees of freedom of that estimate (``inf``
            when it is exact, NaN when undefined).
        seed_variance: estimated variance of the seed effect ``var(a)`` (>= 0).
        image_variance: estimated variance of the shared image effect ``var(b)`` (>= 0).
        residual_variance: estimated residual variance ``var(e)``.
    """

    value: float
    standard_error: float
    degrees_of_freedom: float
    seed_variance: float
    image_variance: float
    residual_variance: float


def pseudo_values(values: np.ndarray, denominator: np.ndarray | None) -> np.ndarray:
    """Per-item pseudo-values of a ratio ``sum(values) / sum(denominator)`` per row.

    ``values`` is ``(S, N)``; the result's row means equal the rows' ratios exactly, and
    its deviations are the first-order (delta-method) influence of every item. Without a
    denominator the statistic is a mean and the values are their own pseudo-values.
    """
    if denominator is None:
        return values
    mean_denominator = denominator.mean(axis=1, keepdims=True)
    ratio = values.sum(axis=1, keepdims=True) / denominator.sum(axis=1, keepdims=True)
    return ratio + (values - ratio * denominator) / mean_denominator


def decompose(table: np.ndarray, *, seeds_random: bool = True) -> Decomposition:
    """Crossed two-way random-effects decomposition of an ``(S, N)`` table.

    With ``seeds_random=False`` the seeds are held fixed (the trained models are the
    population): only the images are sampled, and the variance of the grand mean is
    ``MS_image / (S N)`` with ``N - 1`` degrees of freedom (one seed: the paired t over
    images).
    """
    seeds, items = table.shape
    grand = float(table.mean())
    rows = table.mean(axis=1)
    columns = table.mean(axis=0)
    ms_seed = items * float(((rows - grand) ** 2).sum()) / (seeds - 1) if seeds > 1 else 0.0
    ms_item = seeds * float(((columns - grand) ** 2).sum()) / (items - 1) if items > 1 else 0.0
    if seeds > 1 and items > 1:
        residual = table - rows[:, None] - columns[None, :] + grand
        ms_res = float((residual**2).sum()) / ((seeds - 1) * (items - 1))
    else:
        ms_res = 0.0
    cells = seeds * items
    if not seeds_random:
        df = float(items - 1) if items > 1 else math.nan
        return Decomposition(
            grand, math.sqrt(ms_item / cells), df, 0.0, max(ms_item - ms_res, 0.0) / seeds, ms_res
        )
    # Terms (coefficient * mean square, degrees of freedom) of the variance of the mean.
    terms = [(ms_seed / cells, seeds - 1)]
    if ms_item > ms_res:
        terms += [(ms_item / cells, items - 1), (-ms_res / cells, (seeds - 1) * (items - 1))]
    variance = sum(term for term, _ in terms)
    denominator = sum(term**2 / df for term, df in terms if df > 0)
    df = variance**2 / denominator if denominator > 0 else math.inf
    return Decomposition(
        value=grand,
        standard_error=math.sqrt(max(variance, 0.0)),
        degrees_of_freedom=df,
        seed_variance=max(ms_seed - ms_res, 0.0) / items,
        image_variance=max(ms_item - ms_res, 0.0) / seeds,
        residual_variance=ms_res,
    )


def t_interval(
    value: float, standard_error: float, degrees_of_freedom: float, confidence: float
) -> tuple[float, float, float]:
    """``(low, high, p)``: the t interval and the two-sided p-value of "no difference".

    The two agree: ``p <= 1 - confidence`` exactly when 0 lies outside ``(low, high)``.
    A zero standard error (every paired difference equal) gives the point as interval and
    p = 1 for a zero difference, 0 otherwise.
    """
    if standard_error == 0.0:
        return value, value, 1.0 if value == 0.0 else 0.0
    quantile = float(stats.t.ppf(0.5 + confidence / 2.0, degrees_of_freedom))
    p = float(2.0 * stats.t.sf(abs(value) / standard_error, degrees_of_freedom))
    half = quantile * standard_error
    return value - half, value + half, min(1.0, p)


def sign_flip_p(per_seed: np.ndarray, *, seed: int) -> float:
    """Two-sided sign-flip permutation p-value of the mean of the per-seed differences.

    Exact (every one of the ``2**S`` sign patterns) up to 16 seeds, a seeded Monte-Carlo
    estimate ``(count + 1) / (draws + 1)`` above. It treats the test images as fixed: it
    covers training randomness for this test set, not the sampling of the test set.
    """
    count = per_seed.size
    observed = abs(float(per_seed.mean()))
    # Ties within rounding count as "as extreme" (the observed pattern itself must count).
    tolerance = 1e-12 * max(float(np.abs(per_seed).max()), 1e-300)
    if count <= _MAX_EXACT_SEEDS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=count)))
        means = np.abs(signs @ per_seed) / count
        return float((means >= observed - tolerance).mean())
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([1.0, -1.0]), size=(_SIGN_FLIP_DRAWS, count))
    extreme = int((np.abs(signs @ per_seed) / count >= observed - tolerance).sum())
    return (extreme + 1) / (_SIGN_FLIP_DRAWS + 1)
