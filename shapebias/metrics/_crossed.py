"""Crossed seeds x images inference for a seed-paired difference: variance components, pivot.

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
seed term ``MS_seed / (S N)``, the exact one-sample variance of the ``S`` seed means.
Satterthwaite's degrees of freedom describe it (~``S - 1`` when seeds dominate, ~``N - 1``
when shared images do), but a t interval with them under-covers at 2 seeds when the
components mix. The interval is therefore a generalized pivotal quantity (Weerahandi):
every mean square ``MS_k`` (``k`` degrees of freedom) is replaced by ``MS_k / (U_k / k)``,
``U_k ~ chi2(k)``, which gives draws ``V*`` of the variance of the mean; the pivot is
``mean - Z sqrt(V*)``, its two-sided tail at distance ``x`` is ``P(|Z| sqrt(V*) >= x)``
(exact over ``Z``, averaged over stratified draws of the ``U``), the p-value is that tail
at ``|mean|`` and the interval's half-width the distance where it equals
``1 - confidence``. With seed variation alone this is exactly the t interval over seeds.

A ratio statistic (``sum(values) / sum(denominator)`` per seed, e.g. relative accuracy or
shape bias) is linearised per item (delta method): each model's per-item pseudo-value
``theta + (v_i - theta d_i) / mean(d)`` averages to exactly ``theta`` over the items, so
the same decomposition applies to the pseudo-values.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math

import numpy as np
from scipy import optimize, special, stats

__all__ = [
    "GENERALIZED_DRAWS",
    "Decomposition",
    "decompose",
    "decompose_batch",
    "generalized_interval",
    "generalized_p",
    "generalized_variances",
    "mean_squares",
    "pseudo_values",
    "sign_flip_p",
    "t_interval",
]

# Exact sign-flip enumeration up to this many seeds (2**16 patterns); Monte Carlo above.
_MAX_EXACT_SEEDS = 16
_SIGN_FLIP_DRAWS = 1 << 16
GENERALIZED_DRAWS = 8192
"""Draws of the variance pivot per interval (Monte-Carlo error of p ~0.002 near 0.05)."""


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
    parts = decompose_batch(table[None], seeds_random=seeds_random)
    return Decomposition(*(float(part[0]) for part in parts))


def mean_squares(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(grand mean, MS_seed, MS_image, MS_res)`` of a ``(R, S, N)`` stack, each ``(R,)``.

    A mean square without degrees of freedom (one seed, or one item) is 0.
    """
    _, seeds, items = tables.shape
    grand = tables.mean(axis=(1, 2))
    rows = tables.mean(axis=2)
    columns = tables.mean(axis=1)
    zeros = np.zeros_like(grand)
    ms_seed = (
        items * ((rows - grand[:, None]) ** 2).sum(axis=1) / (seeds - 1) if seeds > 1 else zeros
    )
    ms_item = (
        seeds * ((columns - grand[:, None]) ** 2).sum(axis=1) / (items - 1) if items > 1 else zeros
    )
    if seeds > 1 and items > 1:
        residual = tables - rows[:, :, None] - columns[:, None, :] + grand[:, None, None]
        ms_res = (residual**2).sum(axis=(1, 2)) / ((seeds - 1) * (items - 1))
    else:
        ms_res = zeros
    return grand, ms_seed, ms_item, ms_res


def decompose_batch(
    tables: np.ndarray, *, seeds_random: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`decompose` of a ``(R, S, N)`` stack of tables, vectorised over ``R``.

    Returns ``(value, standard_error, degrees_of_freedom, seed_variance,
    image_variance, residual_variance)``, each ``(R,)``.
    """
    _, seeds, items = tables.shape
    grand, ms_seed, ms_item, ms_res = mean_squares(tables)
    zeros = np.zeros_like(grand)
    cells = seeds * items
    seed_variance = np.maximum(ms_seed - ms_res, 0.0) / items
    image_variance = np.maximum(ms_item - ms_res, 0.0) / seeds
    if not seeds_random:
        df = np.full_like(grand, float(items - 1) if items > 1 else math.nan)
        se = np.sqrt(ms_item / cells)
        return grand, se, df, zeros, image_variance, ms_res
    # Variance of the mean: (MS_seed + MS_image - MS_res) / (S N), the image term
    # MS_image - MS_res truncated at 0; Satterthwaite's degrees of freedom for the sum.
    with_images = ms_item > ms_res
    seed_term, item_term, res_term = ms_seed / cells, ms_item / cells, ms_res / cells
    variance = seed_term + np.where(with_images, item_term - res_term, 0.0)
    denominator = seed_term**2 / (seeds - 1) if seeds > 1 else zeros.copy()
    if items > 1 and seeds > 1:
        denominator = denominator + np.where(
            with_images,
            item_term**2 / (items - 1) + res_term**2 / ((seeds - 1) * (items - 1)),
            0.0,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denominator > 0, variance**2 / denominator, math.inf)
    se = np.sqrt(np.maximum(variance, 0.0))
    return grand, se, df, seed_variance, image_variance, ms_res


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


def generalized_variances(
    mean_squares: tuple[np.ndarray, np.ndarray, np.ndarray],
    seeds: int,
    items: int,
    *,
    seed: int,
    draws: int = GENERALIZED_DRAWS,
) -> np.ndarray:
    """Draws of the generalized pivotal quantity of ``var(mean)``: ``(R, draws)``.

    Each observed mean square ``MS_k`` (``k`` degrees of freedom) is replaced by its
    pivot ``MS_k / (U_k / k)`` with ``U_k ~ chi2(k)``, so that ``(MS_seed* + max(0,
    MS_image* - MS_res*)) / (S N)`` is a draw of the variance of the grand mean that is
    consistent with the observed table (Weerahandi's generalized inference). The ``U``
    are a Latin hypercube sample (stratified, orders from ``seed``); the same draws serve
    every row of the batch.
    """
    rng = np.random.default_rng(seed)
    # Latin hypercube: every U_k at the midpoints of `draws` equal-probability strata
    # (the seed-level integral, often the only one that matters, is then a midpoint rule
    # in probability, error ~1/draws**2), the image and residual ones in seeded orders.
    dof = (seeds - 1, items - 1, (seeds - 1) * (items - 1))
    scaled = [_chi2_strata(k, draws) for k in dof]
    scaled[1] = rng.permutation(scaled[1])
    scaled[2] = rng.permutation(scaled[2])
    ms_seed, ms_item, ms_res = (np.asarray(ms, dtype=np.float64)[:, None] for ms in mean_squares)
    image = np.maximum(ms_item / scaled[1] - ms_res / scaled[2], 0.0)
    return (ms_seed / scaled[0] + image) / (seeds * items)


@functools.lru_cache(maxsize=64)
def _chi2_strata(dof: int, draws: int) -> np.ndarray:
    """``chi2(dof) / dof`` at the midpoints of ``draws`` equal-probability strata (cached)."""
    if dof == 0:
        grid = np.ones(draws)
    else:
        grid = stats.chi2.ppf((np.arange(draws) + 0.5) / draws, dof) / dof
    grid.flags.writeable = False
    return grid


def generalized_p(distance: np.ndarray | float, variances: np.ndarray) -> np.ndarray:
    """``P(|Z| sqrt(V) >= distance)`` averaged over the drawn variances ``V`` (last axis).

    ``Z`` is standard normal, so ``mean - Z sqrt(V)`` is the generalized pivot of the
    mean; this is its two-sided tail at ``distance`` from the estimate, averaged exactly
    over ``Z`` (only ``V`` is drawn), smooth and decreasing in ``distance``.
    """
    distance = np.asarray(distance, dtype=np.float64)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        tails = 2.0 * special.ndtr(-distance / np.sqrt(variances))
    # V = 0: |Z| sqrt(V) = 0 >= distance only for distance 0.
    tails = np.where(variances > 0, tails, (distance <= 0).astype(np.float64))
    return np.minimum(tails.mean(axis=-1), 1.0)


def generalized_interval(
    value: float, variances: np.ndarray, confidence: float
) -> tuple[float, float, float]:
    """``(low, high, p)`` from :func:`generalized_variances` draws (``(draws,)``).

    The half-width ``h`` solves ``generalized_p(h) = 1 - confidence``; the p-value is
    ``generalized_p(|value|)``, so ``p <= 1 - confidence`` exactly when 0 lies outside
    ``(low, high)`` (up to the root finder's tolerance, 1e-12 relative).

    Where at least a ``confidence`` share of the draws is 0 (every seed with the same
    statistic and the image term truncated in most draws), ``generalized_p`` drops from
    1 at ``h = 0`` to at most ``1 - confidence`` at any ``h > 0``: the interval is the
    point (half-width 0), and ``p <= 1 - confidence`` for any nonzero value.
    """
    if not (variances > 0).any():
        return value, value, 1.0 if value == 0.0 else 0.0
    target = 1.0 - confidence
    if float((variances > 0).mean()) <= target:
        # generalized_p(0+) = the share of positive draws: no root above 0 to bracket.
        return value, value, float(generalized_p(abs(value), variances))

    def excess(half: float) -> float:
        return float(generalized_p(half, variances)) - target

    high = math.sqrt(float(np.median(variances[variances > 0])))
    while excess(high) > 0:
        high *= 2.0
    half = optimize.brentq(excess, 0.0, high, xtol=1e-300, rtol=1e-12)
    p = float(generalized_p(abs(value), variances))
    return value - half, value + half, p


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
