"""The crossed seeds x images interval of paired_difference: formulas, coverage, one seed.

Coverage tests draw R simulated experiments with a fixed seed and require the hit rate
to be at least ``nominal - 3 * sqrt(nominal * (1 - nominal) / R)`` (three binomial
standard errors under the nominal rate, so a method that covers at the nominal rate
fails with probability ~0.1%, whatever the seed) and, where a method is known to
under-cover, at most ``nominal - 3`` such errors for it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from shapebias.metrics import IMAGES_ONLY, ONE_SEED, paired_difference
from shapebias.metrics._crossed import (
    decompose,
    generalized_interval,
    mean_squares,
    pseudo_values,
    sign_flip_p,
)


def _literal_mean_squares(table):
    """``(MS_seed, MS_image, MS_res)`` written from the ANOVA definitions, one loop each."""
    seeds, items = len(table), len(table[0])
    grand = sum(sum(row) for row in table) / (seeds * items)
    rows = [sum(row) / items for row in table]
    columns = [sum(table[s][i] for s in range(seeds)) / seeds for i in range(items)]
    ms_seed = items * sum((r - grand) ** 2 for r in rows) / (seeds - 1)
    ms_item = seeds * sum((c - grand) ** 2 for c in columns) / (items - 1)
    ms_res = sum(
        (table[s][i] - rows[s] - columns[i] + grand) ** 2
        for s in range(seeds)
        for i in range(items)
    ) / ((seeds - 1) * (items - 1))
    return ms_seed, ms_item, ms_res


def _literal_decomposition(table):
    """Slow reference from the textbook formulas, one loop per sum."""
    seeds, items = len(table), len(table[0])
    grand = sum(sum(row) for row in table) / (seeds * items)
    ms_seed, ms_item, ms_res = _literal_mean_squares(table)
    n = seeds * items
    variance = (ms_seed + max(ms_item - ms_res, 0.0)) / n
    if ms_item > ms_res:
        df = variance**2 / (
            (ms_seed / n) ** 2 / (seeds - 1)
            + (ms_item / n) ** 2 / (items - 1)
            + (ms_res / n) ** 2 / ((seeds - 1) * (items - 1))
        )
    else:
        df = seeds - 1
    return grand, math.sqrt(variance), df


@pytest.mark.parametrize("shared", [0.0, 1.0])
def test_decomposition_matches_the_literal_formulas(shared):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(4, 30)) + shared * rng.normal(size=30) + rng.normal(size=(4, 1))
    parts = decompose(table)
    value, se, df = _literal_decomposition(table.tolist())
    # Sums of 120 terms of size ~1 in float64: relative rounding ~1e-14.
    assert parts.value == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert parts.standard_error == pytest.approx(se, rel=1e-10)
    assert parts.degrees_of_freedom == pytest.approx(df, rel=1e-10)


def test_variance_estimate_is_unbiased_against_the_simulated_sampling_variance():
    """Brute force: the mean estimated variance equals the variance of the grand mean.

    var(mean) = var(a)/S + var(b)/N + var(e)/(S N) = 0.04/3 + 1/50 + 1/150. The estimated
    variance of each of R = 4000 tables is averaged; its MC error is its sd / sqrt(R).
    """
    rng = np.random.default_rng(2)
    seeds, items, runs = 3, 50, 4000
    tables = (
        rng.normal(0, 0.2, (runs, seeds, 1))
        + rng.normal(0, 1.0, (runs, 1, items))
        + rng.normal(0, 1.0, (runs, seeds, items))
    )
    truth = 0.04 / seeds + 1.0 / items + 1.0 / (seeds * items)
    estimates = np.array([decompose(t).standard_error ** 2 for t in tables])
    means = tables.mean(axis=(1, 2))
    bound = 4 * estimates.std() / math.sqrt(runs)
    # Truncating a negative image term at 0 biases upwards by a negligible amount here.
    assert abs(estimates.mean() - truth) < bound + 0.002 * truth
    # The simulated variance of the grand mean itself (chi-square MC error ~2.2%).
    assert means.var() == pytest.approx(truth, rel=0.1)


def _coverage(make, *, runs, confidence, method="crossed", num_bootstrap=0):
    hits = 0
    for run in range(runs):
        at, base, truth, denominators = make(run)
        result = paired_difference(
            at,
            base,
            confidence=confidence,
            method=method,
            num_bootstrap=num_bootstrap,
            seed=run,
            **denominators,
        )
        hits += result.difference.low <= truth <= result.difference.high
    return hits / runs


def _mean_design(seeds, items, seed_sd, shared_sd, residual_sd, effect=0.1):
    def make(run):
        rng = np.random.default_rng([seeds, items, run])
        shared = rng.normal(0.0, shared_sd, items)
        at = [
            effect + rng.normal(0.0, seed_sd) + shared + rng.normal(0.0, residual_sd, items)
            for _ in range(seeds)
        ]
        return at, [np.zeros(items)] * seeds, effect, {}

    return make


def _bounds(confidence, runs, *, conservative=False):
    """Three binomial standard errors around nominal; a looser top where it is wide.

    Where shared images dominate at few seeds the generalized pivot is conservative
    (0.93-0.96 at nominal 0.9 in docs/guide/metrics.rst's table): there the top is 0.99,
    which still catches an interval twice as wide as it should be (coverage ~0.999).
    """
    sigma = math.sqrt(confidence * (1 - confidence) / runs)
    return confidence - 3 * sigma, 0.99 if conservative else confidence + 3 * sigma


@pytest.mark.parametrize(
    "seeds,seed_sd,shared_sd,conservative",
    [
        (3, 0.0, 1.0, True),
        (5, 0.0, 1.0, False),
        (3, 0.3, 0.0, False),
        (3, 0.15, 1.0, True),
        (2, 0.3, 0.3, True),
    ],
)
def test_crossed_interval_covers_shared_image_and_seed_effects(
    seeds, seed_sd, shared_sd, conservative
):
    # The nested bootstrap measured 0.73 / 0.60 / 0.60 / 0.60 here (nominal 0.9).
    runs, confidence = 300, 0.9
    make = _mean_design(seeds, 100, seed_sd, shared_sd, 0.5)
    low, high = _bounds(confidence, runs, conservative=conservative)
    assert low <= _coverage(make, runs=runs, confidence=confidence) <= high


def test_the_nested_bootstrap_undercovers_a_shared_image_effect():
    """The failure the crossed interval fixes: images resampled per seed, 5 seeds."""
    runs, confidence = 200, 0.9
    make = _mean_design(5, 100, 0.0, 1.0, 0.5)
    coverage = _coverage(
        make, runs=runs, confidence=confidence, method="nested bootstrap", num_bootstrap=300
    )
    assert coverage < _bounds(confidence, runs)[0]


def _ratio_design(seeds, items, seed_sd, shared_sd):
    """Relative-accuracy-like ratios from a probit model with a closed-form truth.

    Per item: right on clean ~ Bernoulli(0.8); right on both = clean * Bernoulli(pi), with
    pi = Phi(mu + seed + image) for the AT model and Phi(mu0 + difficulty) for the
    baseline. E[Phi(mu + Z)] = Phi(mu / sqrt(1 + var(Z))) gives the population ratios.
    """
    mu_at, mu_base, difficulty = 0.3, 0.0, 0.5
    truth = stats.norm.cdf(mu_at / math.sqrt(1 + seed_sd**2 + shared_sd**2 + difficulty**2))
    truth -= stats.norm.cdf(mu_base / math.sqrt(1 + difficulty**2))

    def make(run):
        rng = np.random.default_rng([seeds, items, run, 7])
        hard = rng.normal(0.0, difficulty, items)
        shared = rng.normal(0.0, shared_sd, items)
        at, base, at_den, base_den = [], [], [], []
        for _ in range(seeds):
            pi_at = stats.norm.cdf(mu_at + rng.normal(0.0, seed_sd) + shared + hard)
            pi_base = stats.norm.cdf(mu_base + hard)
            for values, denominators, pi in ((at, at_den, pi_at), (base, base_den, pi_base)):
                clean = rng.random(items) < 0.8
                denominators.append(clean.astype(float))
                values.append((clean & (rng.random(items) < pi)).astype(float))
        return at, base, truth, {"at_denominator": at_den, "baseline_denominator": base_den}

    return make


@pytest.mark.parametrize("seed_sd,shared_sd,conservative", [(0.0, 1.0, True), (0.3, 0.0, False)])
def test_crossed_interval_covers_a_ratio_statistic(seed_sd, shared_sd, conservative):
    runs, confidence = 250, 0.9
    make = _ratio_design(3, 200, seed_sd, shared_sd)
    low, high = _bounds(confidence, runs, conservative=conservative)
    assert low <= _coverage(make, runs=runs, confidence=confidence) <= high


def test_pseudo_values_average_to_the_ratio_and_match_the_delta_method():
    rng = np.random.default_rng(4)
    denominator = (rng.random((3, 40)) < 0.7).astype(float)
    values = denominator * (rng.random((3, 40)) < 0.5)
    pseudo = pseudo_values(values, denominator)
    ratios = values.sum(1) / denominator.sum(1)
    assert pseudo.mean(1) == pytest.approx(ratios, rel=1e-12)
    # Delta-method variance of a ratio of means, written out for one row:
    # var(R) ~ var(v - R d) / (N mean(d)^2).
    v, d, r = values[0], denominator[0], ratios[0]
    delta = np.var(v - r * d, ddof=1) / (len(v) * d.mean() ** 2)
    assert np.var(pseudo[0], ddof=1) / len(v) == pytest.approx(delta, rel=1e-10)
    assert pseudo_values(values, None) is values


def test_p_value_agrees_with_the_interval():
    rng = np.random.default_rng(5)
    for run in range(60):
        seeds = 2 + run % 4
        at = [rng.normal(0.05 * (run % 3), 0.5, 30) + rng.normal(0, 0.05) for _ in range(seeds)]
        base = [np.zeros(30)] * seeds
        for confidence in (0.9, 0.95):
            result = paired_difference(at, base, confidence=confidence)
            excludes_zero = not result.difference.low <= 0.0 <= result.difference.high
            assert (result.p_value <= 1 - confidence) == excludes_zero
    # The boundary: an interval that ends exactly at 0 has p = 1 - confidence.
    result = paired_difference(
        [np.array([0.1, 0.3, 0.2]), np.array([0.4, 0.2, 0.6])], [np.zeros(3)] * 2
    )
    shifted = result.difference.low
    at_zero = paired_difference(
        [np.array([0.1, 0.3, 0.2]) - shifted, np.array([0.4, 0.2, 0.6]) - shifted],
        [np.zeros(3)] * 2,
    )
    assert at_zero.difference.low == pytest.approx(0.0, abs=1e-12)
    assert at_zero.p_value == pytest.approx(0.05, rel=1e-8)


def test_one_seed_is_the_paired_t_over_images_and_says_so():
    rng = np.random.default_rng(6)
    at, base = rng.normal(0.1, 1.0, 80), rng.normal(0.0, 1.0, 80)
    result = paired_difference([at], [base], confidence=0.9)
    reference = stats.ttest_rel(at, base)
    interval = reference.confidence_interval(0.9)
    assert result.note == ONE_SEED and result.method == "images"
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-9)
    assert result.difference.low == pytest.approx(interval.low, rel=1e-9)
    assert result.difference.high == pytest.approx(interval.high, rel=1e-9)
    assert result.degrees_of_freedom == 79
    # Several seeds, images only: the t over per-image means across seeds.
    pair = paired_difference([at, at + 0.2], [base, base], method="images")
    assert pair.note == IMAGES_ONLY and pair.degrees_of_freedom == 79
    reference = stats.ttest_rel(at + 0.1, base)
    assert pair.p_value == pytest.approx(reference.pvalue, rel=1e-9)


def test_seed_variation_alone_gives_the_t_interval_over_seeds():
    # Each seed's items equal: no image variation, only the two seeds' means differ. The
    # pivot is then exactly mean - t(1) * se; the stratified draws (a midpoint rule in
    # probability over 8192 strata) reproduce its quantile and p to ~1e-6.
    result = paired_difference([np.full(10, 0.1), np.full(10, 0.3)], [np.zeros(10)] * 2)
    assert result.degrees_of_freedom == pytest.approx(1.0)
    half = stats.t.ppf(0.975, 1) * 0.1  # se of the mean of 0.1 and 0.3 = 0.1
    assert result.difference.high - 0.2 == pytest.approx(half, rel=1e-4)
    assert result.p_value == pytest.approx(2 * stats.t.sf(2.0, 1), rel=1e-4)


def _brute_force_pivot(table, confidence, draws, rng):
    """Literal generalized pivot: draw Z and the three chi-squares, take quantiles."""
    seeds, items = table.shape
    value, ms_seed, ms_item, ms_res = (float(x[0]) for x in mean_squares(table[None]))
    k1, k2, k3 = seeds - 1, items - 1, (seeds - 1) * (items - 1)
    variance = (
        ms_seed * k1 / rng.chisquare(k1, draws)
        + np.maximum(
            ms_item * k2 / rng.chisquare(k2, draws) - ms_res * k3 / rng.chisquare(k3, draws), 0
        )
    ) / (seeds * items)
    pivot = value - rng.standard_normal(draws) * np.sqrt(variance)
    tail = (1 - confidence) / 2
    low, high = np.quantile(pivot, [tail, 1 - tail])
    p = 2 * min((pivot <= 0).mean(), (pivot >= 0).mean())
    return low, high, p


@pytest.mark.parametrize("seed_sd,shared_sd", [(0.1, 0.0), (0.0, 0.5), (0.08, 0.4)])
def test_interval_matches_a_brute_force_generalized_pivot(seed_sd, shared_sd):
    rng = np.random.default_rng(8)
    shared = rng.normal(0, shared_sd, 60)
    at = [0.05 + rng.normal(0, seed_sd) + shared + rng.normal(0, 0.3, 60) for _ in range(3)]
    base = [np.zeros(60)] * 3
    result = paired_difference(at, base, confidence=0.9)
    table = np.stack(at)
    low, high, p = _brute_force_pivot(table, 0.9, 400_000, rng)
    # 400k draws: quantile MC error ~ 0.3% of the half-width, p error ~ sqrt(p/400k).
    half = (high - low) / 2
    assert result.difference.low == pytest.approx(low, abs=0.02 * half)
    assert result.difference.high == pytest.approx(high, abs=0.02 * half)
    assert result.p_value == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / 400_000) + 0.004)


def test_the_pivot_truncates_the_image_term_in_every_draw():
    """Catches ``MS_image* - MS_res*`` left untruncated in the draws (a negative variance
    component then cancels part of the seed term).

    The truncation matters where the seed term is small and ``MS_image`` is below
    ``MS_res``: here the seed means are shrunk to a fifth of their spread and there is no
    image effect, and the untruncated pivot's interval is ~2.5 times narrower.
    """
    rng = np.random.default_rng(3)
    table = rng.normal(size=(3, 20))
    rows = table.mean(axis=1, keepdims=True)
    table = table - 0.8 * rows + 0.1
    _, ms_seed, ms_item, ms_res = (float(x[0]) for x in mean_squares(table[None]))
    assert ms_seed < 0.1 * ms_res and ms_item < ms_res  # the regime described above
    result = paired_difference(list(table), [np.zeros(20)] * 3, confidence=0.9)
    low, high, p = _brute_force_pivot(table, 0.9, 400_000, rng)
    # As in the test above: quantile MC error ~0.3% of the half-width at 400k draws.
    half = (high - low) / 2
    assert result.difference.low == pytest.approx(low, abs=0.02 * half)
    assert result.difference.high == pytest.approx(high, abs=0.02 * half)
    assert result.p_value == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / 400_000) + 0.004)


def test_sign_flip_p_is_exact_and_only_from_six_seeds():
    per_seed = np.array([0.03, 0.01, 0.02, -0.005, 0.04, 0.02, 0.01])
    brute = np.mean(
        [
            abs(np.dot(signs, per_seed)) >= abs(per_seed.sum()) - 1e-15
            for signs in itertools.product((1, -1), repeat=7)
        ]
    )
    assert sign_flip_p(per_seed, seed=0) == pytest.approx(brute)
    assert brute == pytest.approx(4 / 128)  # the observed pattern, one flip of -0.005, mirrors
    at = [np.full(5, d) + np.linspace(-0.1, 0.1, 5) for d in per_seed]
    result = paired_difference(at, [np.zeros(5)] * 7)
    assert result.sign_flip_p == pytest.approx(brute)
    assert math.isnan(paired_difference(at[:5], [np.zeros(5)] * 5).sign_flip_p)
    # Above 16 seeds: Monte Carlo, (count + 1) / (draws + 1), reproducible by seed.
    many = np.full(20, 0.01)
    assert sign_flip_p(many, seed=1) == sign_flip_p(many, seed=1) < 1e-4


def test_variance_components_are_the_method_of_moments_estimates():
    """Catches the seed / image components divided by the wrong count (S and N swapped)
    or the residual mean square with the wrong degrees of freedom.

    E[MS_seed] = var(e) + N var(a) and E[MS_image] = var(e) + S var(b) give
    var(a) = (MS_seed - MS_res) / N and var(b) = (MS_image - MS_res) / S, truncated at 0.
    S = 3 and N = 20 differ, so a swap changes every component.
    """
    rng = np.random.default_rng(11)
    table = rng.normal(size=(3, 20)) + rng.normal(0, 0.8, size=(3, 1)) + rng.normal(size=20)
    ms_seed, ms_item, ms_res = _literal_mean_squares(table.tolist())
    parts = decompose(table)
    # Sums of 60 terms of size ~1: relative rounding ~1e-14.
    assert parts.seed_variance == pytest.approx(max(ms_seed - ms_res, 0.0) / 20, rel=1e-10)
    assert parts.image_variance == pytest.approx(max(ms_item - ms_res, 0.0) / 3, rel=1e-10)
    assert parts.residual_variance == pytest.approx(ms_res, rel=1e-10)
    assert parts.seed_variance > 0 and parts.image_variance > 0  # both branches live
    # No seed effect at all (every row mean equal): the seed component truncates to 0.
    flat = table - table.mean(axis=1, keepdims=True)
    assert decompose(flat).seed_variance == 0.0


def test_images_only_decomposition_is_the_t_over_per_image_means():
    """Catches the image-level standard error divided by N instead of S N, or given
    S N - 1 degrees of freedom: the seeds are fixed, so the per-image mean over seeds is
    one observation per image (N - 1 degrees of freedom)."""
    rng = np.random.default_rng(12)
    table = rng.normal(size=(4, 25))
    per_image = table.mean(axis=0)
    parts = decompose(table, seeds_random=False)
    assert parts.standard_error == pytest.approx(
        np.std(per_image, ddof=1) / math.sqrt(25), rel=1e-10
    )
    assert parts.degrees_of_freedom == 24


def _literal_pseudo_values(values, denominator):
    """theta + (v_i - theta d_i) / mean(d) per item, theta and mean(d) of the item's row."""
    out = []
    for v, d in zip(values, denominator, strict=True):
        theta = sum(v) / sum(d)
        mean_d = sum(d) / len(d)
        out.append([theta + (vi - theta * di) / mean_d for vi, di in zip(v, d, strict=True)])
    return np.array(out)


def test_a_ratio_comparison_decomposes_each_models_own_pseudo_values():
    """Catches pseudo-values built with the other model's denominator, a ratio or a mean
    denominator pooled over seeds instead of per seed, or no division by mean(d).

    The two models have different denominators (different items right on clean) and the
    seeds different denominator sums, so each of those slips changes the table.
    """
    rng = np.random.default_rng(13)
    seeds, items = 3, 40
    at_den = (rng.random((seeds, items)) < np.array([[0.5], [0.7], [0.9]])).astype(float)
    base_den = (rng.random((seeds, items)) < 0.8).astype(float)
    at = at_den * (rng.random((seeds, items)) < 0.6)
    base = base_den * (rng.random((seeds, items)) < 0.4)
    table = _literal_pseudo_values(at.tolist(), at_den.tolist()) - _literal_pseudo_values(
        base.tolist(), base_den.tolist()
    )
    result = paired_difference(
        list(at), list(base), at_denominator=list(at_den), baseline_denominator=list(base_den)
    )
    reference = _literal_decomposition(table.tolist())
    assert result.difference.value == pytest.approx(reference[0], rel=1e-12)
    # Sums of 120 terms of size ~1-3: relative rounding ~1e-14.
    assert result.standard_error == pytest.approx(reference[1], rel=1e-10)
    assert result.degrees_of_freedom == pytest.approx(reference[2], rel=1e-10)


@pytest.mark.parametrize("method", ["crossed", "images", "nested bootstrap"])
def test_swapping_the_models_mirrors_the_interval_and_keeps_the_p_value(method):
    """Catches a p-value taken at the signed difference (a one-sided tail): a two-sided
    test of "no difference" must give a clear negative difference the same p as its
    mirror image, and the interval of baseline - AT is minus that of AT - baseline."""
    rng = np.random.default_rng(14)
    at = [0.3 + rng.normal(0, 0.05) + rng.normal(0, 0.5, 50) for _ in range(3)]
    base = [np.zeros(50)] * 3
    # The bootstrap's item draws do not depend on the values, so they mirror exactly too.
    options = {"method": method, "num_bootstrap": 400}
    forward = paired_difference(at, base, **options)
    backward = paired_difference(base, at, **options)
    assert forward.p_value < 0.05  # a clear effect, so a one-sided tail would read ~1
    assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-12)
    assert backward.difference.low == pytest.approx(-forward.difference.high, rel=1e-9)
    assert backward.difference.high == pytest.approx(-forward.difference.low, rel=1e-9)
    assert (backward.lower, backward.higher) == (forward.higher, forward.lower)


def test_monte_carlo_sign_flip_p_above_16_seeds_matches_exact_enumeration():
    """Catches a Monte-Carlo branch that is one-sided, drops the observed pattern, or
    returns count / draws (which reads 0, an impossible p-value, for a clear effect).

    17 seeds: the exact p over all 2**17 patterns is enumerated here; the Monte-Carlo p
    must lie within 4 binomial standard errors (2**16 draws) plus the +1 correction.
    """
    per_seed = np.linspace(-0.02, 0.06, 17) + 0.003 * np.sin(np.arange(17))
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=17)))
    observed = abs(per_seed.sum())
    exact = float((np.abs(signs @ per_seed) >= observed * (1 - 1e-12)).mean())
    assert 0.005 < exact < 0.2  # a p where a one-sided or a mis-counted test shows
    draws = 1 << 16
    mc = sign_flip_p(per_seed, seed=3)
    assert mc == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / draws) + 2 / draws)
    # 40 equal seeds: only the all-plus / all-minus patterns (chance 2**-39 per draw) are
    # as extreme, so no draw is, and the p-value is (0 + 1) / (draws + 1), never 0.
    assert sign_flip_p(np.full(40, 0.01), seed=5) == 1 / (draws + 1)


def test_sign_flip_p_is_reported_from_exactly_six_seeds():
    """Catches the robustness check switched on only above 6 seeds (docs: 6 or more)."""
    per_seed = np.array([0.03, 0.01, 0.02, -0.005, 0.04, 0.02])
    at = [np.full(4, d) + np.array([-0.1, 0.0, 0.05, 0.05]) for d in per_seed]
    result = paired_difference(at, [np.zeros(4)] * 6)
    brute = np.mean(
        [
            abs(np.dot(signs, per_seed)) >= abs(per_seed.sum()) * (1 - 1e-12)
            for signs in itertools.product((1, -1), repeat=6)
        ]
    )
    assert result.sign_flip_p == pytest.approx(brute)
    assert brute == pytest.approx(4 / 64)  # all positive, the -0.005 flipped, and mirrors


def test_generalized_interval_solves_its_tail_equation_and_collapses_without_a_root():
    """Catches the root finder run where no root exists above 0 (it raised RuntimeError:
    "Failed to converge") and a half-width that does not solve its tail equation.

    Draws of V: a share ``q`` equal to 1, the rest 0. Then P(|Z| sqrt(V) >= h) =
    q * 2 Phi(-h) for h > 0. With q = 0.1 and 1 - confidence = 0.05 the half-width is
    Phi^-1(0.75); with q = 0.01 the tail is below 0.05 for every h > 0, so the interval
    is the point and p (= q * 2 Phi(-|value|)) is below 0.05.
    """
    ten = np.r_[np.ones(100), np.zeros(900)]
    low, high, p = generalized_interval(0.5, ten, 0.95)
    # brentq's rtol 1e-12 on h ~ 0.67.
    assert high - 0.5 == pytest.approx(stats.norm.ppf(0.75), rel=1e-9)
    assert 0.5 - low == pytest.approx(stats.norm.ppf(0.75), rel=1e-9)
    assert p == pytest.approx(0.1 * 2 * stats.norm.sf(0.5), rel=1e-12)
    one = np.r_[np.ones(10), np.zeros(990)]
    assert generalized_interval(0.5, one, 0.95)[:2] == (0.5, 0.5)
    assert generalized_interval(0.5, one, 0.95)[2] == pytest.approx(
        0.01 * 2 * stats.norm.sf(0.5), rel=1e-12
    )
    assert generalized_interval(0.0, one, 0.95) == (0.0, 0.0, 1.0)


def test_every_seed_with_the_same_statistic_gives_a_consistent_interval():
    """Catches the crash (RuntimeError from the root finder) on seeds whose statistics
    are all equal while their items differ: the per-seed mean square is 0 and the image
    mean square below the residual one, so the variance pivot is 0 in ~99% of draws.

    Three seeds of relative accuracy with the same counts but different items: every
    seed's difference is exactly 0.0625, so the seed-level spread is 0.
    """
    clean = np.arange(400) < 320
    at, base = [], []
    for share in (0.3, 0.5, 0.7):
        at.append((clean & (np.arange(400) < round((share + 0.05) * 400))).astype(float))
        base.append((clean & (np.arange(400) < round(share * 400))).astype(float))
    den = [clean.astype(float)] * 3
    result = paired_difference(at, base, at_denominator=den, baseline_denominator=den)
    assert result.per_seed == pytest.approx((0.0625,) * 3)
    low, high = result.difference.low, result.difference.high
    assert low <= 0.0625 <= high and math.isfinite(low) and math.isfinite(high)
    excludes_zero = not low <= 0.0 <= high
    assert (result.p_value <= 0.05) == excludes_zero


def test_sign_flip_p_counts_the_observed_pattern_whatever_the_rounding():
    """Catches the exact test comparing without a tie tolerance: ``|signs @ x| / S`` and
    ``|mean(x)|`` round differently in ~1 of 8 vectors, and the observed pattern (and its
    mirror) then fail to count as extreme as themselves.

    Every value positive and none small: only the observed pattern and its mirror reach
    the observed mean, so p = 2 / 2**S exactly.
    """
    rng = np.random.default_rng(21)
    for trial in range(100):
        count = 6 + trial % 5
        per_seed = rng.uniform(0.5, 1.5, count) * 10 ** rng.uniform(-4, 0)
        assert sign_flip_p(per_seed, seed=0) == 2 / 2**count
