"""Seed-paired differences, Holm's adjustment and the claim verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from shapebias.metrics import (
    AT_DID_NOT_FIT,
    CANNOT_DISCRIMINATE,
    HOLDS,
    NO_DIFFERENCE,
    ONE_SEED,
    REVERSED,
    Estimate,
    PairedDifference,
    holm,
    paired_difference,
    verdict,
)

EFFECT = 0.1


def _simulated(rng, seeds, items, seed_sd, item_sd):
    """Per-item values of baseline and AT models with a true paired effect of EFFECT.

    Each seed's AT-minus-baseline effect is EFFECT plus seed noise; the two models share
    an item-level component (the same test image) plus their own item noise.
    """
    at, base = [], []
    for _ in range(seeds):
        shared = rng.normal(0.0, item_sd, items)
        effect = EFFECT + rng.normal(0.0, seed_sd)
        base.append(shared + rng.normal(0.0, item_sd, items))
        at.append(shared + effect + rng.normal(0.0, item_sd, items))
    return at, base


def _literal_hierarchical(at, base, num_bootstrap, seed):
    """Slow reference: draw seeds, then item indices for each drawn seed, by index."""
    rng = np.random.default_rng(seed)
    replicates = []
    for _ in range(num_bootstrap):
        per_seed = []
        for s in rng.integers(len(at), size=len(at)):
            index = rng.integers(len(at[s]), size=len(at[s]))
            per_seed.append(at[s][index].mean() - base[s][index].mean())
        replicates.append(np.mean(per_seed))
    return np.quantile(replicates, [0.025, 0.975])


def test_matches_a_literal_index_resampling_reference():
    rng = np.random.default_rng(3)
    at, base = _simulated(rng, 4, 60, 0.05, 0.5)
    result = paired_difference(at, base, num_bootstrap=4000, seed=1, method="nested bootstrap")
    low, high = _literal_hierarchical(at, base, 4000, seed=2)
    width = high - low
    assert result.difference.low == pytest.approx(low, abs=0.08 * width)
    assert result.difference.high == pytest.approx(high, abs=0.08 * width)
    expected = np.mean([a.mean() - b.mean() for a, b in zip(at, base, strict=True)])
    assert result.difference.value == pytest.approx(expected, rel=1e-12)


def test_ratio_statistic_is_a_ratio_of_sums_and_counts_signs():
    # Relative accuracy per seed: right on both / right on clean (not a mean of ratios).
    at_both = [torch.tensor([1, 0, 0, 0]), torch.tensor([1, 1, 0, 0])]
    at_clean = [torch.tensor([1, 1, 0, 0]), torch.tensor([1, 1, 1, 1])]
    base_both = [torch.tensor([1, 1, 0, 0]), torch.tensor([1, 0, 0, 0])]
    base_clean = [torch.tensor([1, 1, 1, 0]), torch.tensor([1, 1, 0, 0])]
    result = paired_difference(
        at_both,
        base_both,
        at_denominator=at_clean,
        baseline_denominator=base_clean,
        num_bootstrap=50,
    )
    assert result.at == pytest.approx((1 / 2, 2 / 4))
    assert result.baseline == pytest.approx((2 / 3, 1 / 2))
    assert result.per_seed == pytest.approx((1 / 2 - 2 / 3, 0.0))
    assert result.difference.value == pytest.approx((1 / 2 - 2 / 3) / 2)
    assert (result.lower, result.higher, result.sign_count) == (1, 0, "1/2 lower")
    tie = paired_difference([torch.tensor([1.0]), torch.tensor([0.0])], [torch.tensor([0.5])] * 2)
    assert tie.sign_count == "1/2 higher, 1/2 lower"


def test_sign_count_and_p_value_of_a_clear_effect():
    at = [torch.ones(50), torch.ones(50), torch.ones(50)]
    base = [torch.zeros(50)] * 3
    result = paired_difference(at, base, num_bootstrap=999, seed=0, method="nested bootstrap")
    assert result.sign_count == "3/3 higher" and result.num_seeds == 3
    assert result.p_value == pytest.approx(2 / 1000)  # no replicate at or below 0
    # Every paired difference equal: no variance at all, p = 0 (crossed) / 1 (none).
    exact = paired_difference(at, base)
    assert exact.difference == Estimate(1.0, 1.0, 1.0) and exact.p_value == 0.0
    for method in ("crossed", "nested bootstrap"):
        none = paired_difference(base, base, num_bootstrap=200, method=method)
        assert none.p_value == 1.0 and none.sign_count == "0/3 changed"
        assert none.difference == Estimate(0.0, 0.0, 0.0)


def test_same_seed_same_interval_and_inputs_untouched():
    rng = np.random.default_rng(5)
    at, base = _simulated(rng, 3, 30, 0.05, 0.3)
    at_t = [torch.from_numpy(a) for a in at]
    copies = [a.clone() for a in at_t]
    nested = {"num_bootstrap": 300, "method": "nested bootstrap"}
    first = paired_difference(at_t, base, seed=7, **nested)
    assert paired_difference(at_t, base, seed=7, **nested) == first
    assert paired_difference(at_t, base, seed=8, **nested) != first
    assert paired_difference(at_t, base) == paired_difference(at, base)  # tensor == array
    assert all(torch.equal(a, c) for a, c in zip(at_t, copies, strict=True))
    no_interval = paired_difference(at, base, num_bootstrap=0, method="nested bootstrap")
    assert math.isnan(no_interval.difference.low) and math.isnan(no_interval.p_value)
    assert no_interval.to_dict()["p_value"] is None


def test_to_dict_is_plain():
    result = paired_difference([np.array([1.0, 0.0])], [np.array([0.0, 0.0])], num_bootstrap=20)
    payload = result.to_dict()
    assert payload["per_seed"] == [0.5] and payload["sign_count"] == "1/1 higher"
    assert set(payload["difference"]) == {"value", "low", "high"}
    assert payload["method"] == "images" and payload["note"] == ONE_SEED
    assert payload["sign_flip_p"] is None and payload["degrees_of_freedom"] == 1.0
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"at": torch.ones(3, 4)}, TypeError, r"at must be a list with one 1-D tensor"),
        ({"at": []}, ValueError, "at must hold at least one seed"),
        ({"baseline": [torch.ones(4)] * 3}, ValueError, r"one entry per seed like at \(2"),
        ({"at": [torch.ones(4), torch.ones(3)]}, ValueError, r"at\[1\].*same test items"),
        ({"at": [torch.ones(4), [1, 0, 1, 1]]}, TypeError, r"at\[1\] must be a 1-D tensor"),
        ({"at": [torch.ones(4), torch.ones(2, 2)]}, ValueError, r"at\[1\] must be a non-empty"),
        (
            {"at": [torch.ones(4), torch.tensor([1.0, math.nan, 0, 0])]},
            ValueError,
            "NaN or infinite",
        ),
        ({"at_denominator": [torch.ones(4)] * 2}, ValueError, "must be given together"),
        (
            {"at_denominator": [torch.ones(4)] * 2, "baseline_denominator": [torch.zeros(4)] * 2},
            ValueError,
            r"baseline_denominator\[0\] must be non-negative with a positive sum",
        ),
        ({"confidence": 1.0}, ValueError, r"confidence must lie in \(0, 1\), got 1"),
        ({"confidence": 0.0}, ValueError, r"confidence must lie in \(0, 1\), got 0"),
        ({"confidence": -0.5}, ValueError, r"confidence must lie in \(0, 1\), got -0.5"),
        ({"method": "bootstrap"}, ValueError, "method must be one of 'auto', 'crossed'"),
        (
            {"at": [torch.ones(4)], "baseline": [torch.zeros(4)], "method": "crossed"},
            ValueError,
            "method='crossed' needs at least 2 seeds",
        ),
        (
            {"at": [torch.ones(4), torch.ones(3)], "baseline": [torch.zeros(4), torch.zeros(3)]},
            ValueError,
            r"same test items in every seed for method='crossed'.*got \[4, 3\]",
        ),
        (
            {
                "at": [torch.ones(4), torch.ones(3)],
                "baseline": [torch.zeros(4), torch.zeros(3)],
                "method": "images",
            },
            ValueError,
            "same test items in every seed for method='images'",
        ),
        (
            {
                "at_denominator": [torch.ones(4), torch.tensor([1.0, 1.0, 1.0, -1.0])],
                "baseline_denominator": [torch.ones(4)] * 2,
            },
            ValueError,
            r"at_denominator\[1\] must be non-negative",
        ),
        ({"num_bootstrap": -1}, ValueError, "num_bootstrap must be >= 0"),
    ],
)
def test_paired_difference_errors(kwargs, error, message):
    arguments = {
        "at": [torch.ones(4)] * 2,
        "baseline": [torch.zeros(4)] * 2,
        "num_bootstrap": 10,
        **kwargs,
    }
    with pytest.raises(error, match=message):
        paired_difference(arguments.pop("at"), arguments.pop("baseline"), **arguments)


def test_holm_against_a_hand_computed_case():
    # Sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04,
    # raised to 0.06 by the running maximum). At alpha 0.05: the first two are rejected.
    result = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert result.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert result.rejected == (True, False, False, True)
    # Bonferroni would use x4 everywhere and reject only 0.005; plain p < 0.05 all four.
    capped = holm([0.5, 0.6])
    assert capped.adjusted == pytest.approx((1.0, 1.0))


def test_holm_leaves_untested_claims_out_of_the_family():
    result = holm([0.02, math.nan, 0.03])
    assert result.adjusted[0] == pytest.approx(0.04) and result.adjusted[2] == pytest.approx(0.04)
    assert math.isnan(result.adjusted[1]) and result.rejected == (True, False, True)
    assert holm([]).adjusted == ()


@pytest.mark.parametrize(
    "p_values,alpha,error,message",
    [
        ([0.1, 1.5], 0.05, ValueError, r"p_values\[1\] must be >= 0 and <= 1"),
        ([0.1, "0.2"], 0.05, TypeError, r"p_values\[1\] must be a real number"),
        ("0.1", 0.05, TypeError, "p_values must be a list"),
        ([0.1], 1.0, ValueError, r"alpha must lie in \(0, 1\), got 1"),
        ([0.1], 0.0, ValueError, r"alpha must lie in \(0, 1\), got 0"),
    ],
)
def test_holm_errors(p_values, alpha, error, message):
    with pytest.raises(error, match=message):
        holm(p_values, alpha=alpha)


def _difference(value, low, high, p):
    return PairedDifference(Estimate(value, low, high), (0.5,), (0.5,), 0, 0, p, 0.95, 1000)


UP = _difference(0.1, 0.05, 0.15, 0.004)
DOWN = _difference(-0.1, -0.15, -0.05, 0.004)
FLAT = _difference(0.01, -0.03, 0.05, 0.6)
ROBUST = _difference(0.3, 0.2, 0.4, 0.002)
NOT_ROBUST = _difference(0.02, -0.01, 0.05, 0.2)
VERDICT_ARGUMENTS = {"expected": "higher", "reference_accuracy": 0.7, "chance": 0.25, "floor": 0.05}


@pytest.mark.parametrize(
    "difference,kwargs,expected",
    [
        (UP, {}, HOLDS),
        (DOWN, {}, REVERSED),
        (DOWN, {"expected": "lower"}, HOLDS),
        (FLAT, {}, NO_DIFFERENCE),
        (UP, {"p_value": 0.2}, NO_DIFFERENCE),  # Holm-adjusted p decides
        (UP, {"p_value": math.nan}, NO_DIFFERENCE),
        # The floor: standard model 2 points above chance (0.25), floor 5 points.
        (UP, {"reference_accuracy": 0.27}, CANNOT_DISCRIMINATE),
        (UP, {"reference_accuracy": 0.97}, CANNOT_DISCRIMINATE),  # the ceiling
        (UP, {"reference_accuracy": 0.97, "ceiling": False}, HOLDS),  # saliency: no ceiling
        (UP, {"reference_accuracy": 0.27, "ceiling": False}, CANNOT_DISCRIMINATE),
        (UP, {"reference_accuracy": [0.8, 0.26]}, CANNOT_DISCRIMINATE),  # AT at chance
        (UP, {"reference_accuracy": 0.31}, HOLDS),
        (UP, {"reference_accuracy": 0.31, "floor": 0.1}, CANNOT_DISCRIMINATE),
        (UP, {"robust_gain": ROBUST, "min_robust_gain": 0.05}, HOLDS),
        (UP, {"robust_gain": NOT_ROBUST}, AT_DID_NOT_FIT),
        (UP, {"robust_gain": ROBUST, "min_robust_gain": 0.25}, AT_DID_NOT_FIT),
    ],
)
def test_verdicts(difference, kwargs, expected):
    arguments = {**VERDICT_ARGUMENTS, **kwargs}
    assert verdict(difference, **arguments) == expected


def test_floor_case_from_real_outcomes_cannot_discriminate():
    """A test set that leaves the baseline at chance: no verdict, whatever the difference."""
    generator = torch.Generator().manual_seed(0)
    base = [(torch.rand(200, generator=generator) < 0.26).float() for _ in range(3)]
    at = [(torch.rand(200, generator=generator) < 0.6).float() for _ in range(3)]
    result = paired_difference(at, base, num_bootstrap=500)
    assert result.p_value < 0.01  # a clear difference...
    accuracy = float(np.mean(result.baseline))
    # ... but the baseline sits at chance (4 classes), so the test cannot discriminate.
    assert (
        verdict(result, expected="higher", reference_accuracy=accuracy, chance=0.25, floor=0.05)
        == CANNOT_DISCRIMINATE
    )


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        ({"expected": "up"}, ValueError, "expected must be one of 'higher', 'lower'"),
        ({"floor": 0.6}, ValueError, "floor must be >= 0 and <= 0.5"),
        ({"chance": 1.5}, ValueError, "chance must be >= 0 and <= 1"),
        ({"reference_accuracy": []}, ValueError, "at least one accuracy"),
        ({"reference_accuracy": 75}, ValueError, r"reference_accuracy\[0\] must be"),
        ({"robust_gain": 0.3}, TypeError, "robust_gain must be a PairedDifference"),
        ({"p_value": 2.0}, ValueError, "p_value must be >= 0 and <= 1"),
        ({"ceiling": "False"}, TypeError, "ceiling must be True or False"),
    ],
)
def test_verdict_errors(kwargs, error, message):
    arguments = {**VERDICT_ARGUMENTS, **kwargs}
    with pytest.raises(error, match=message):
        verdict(UP, **arguments)
    with pytest.raises(TypeError, match="difference must be a PairedDifference"):
        verdict(0.1, expected="higher", reference_accuracy=0.7, chance=0.25, floor=0.05)


def test_holm_at_the_exact_alpha_boundary():
    # 2 * 0.025 is exactly 0.05 in binary floating point: adjusted == alpha is rejected.
    at_boundary = holm([0.025, 0.5], alpha=0.05)
    assert at_boundary.adjusted[0] == 0.05 and at_boundary.rejected == (True, False)
    just_above = holm([math.nextafter(0.025, 1.0), 0.5], alpha=0.05)
    assert just_above.adjusted[0] > 0.05 and just_above.rejected == (False, False)
    # The step-down: the second p (0.05 x 1) is rejected only because the first was.
    assert holm([0.025, 0.05], alpha=0.05).rejected == (True, True)
    assert holm([0.0251, 0.05], alpha=0.05).rejected == (False, False)


@pytest.mark.parametrize(
    "difference,kwargs,expected",
    [
        # Not robust AND at the floor: the fit check comes first.
        (UP, {"robust_gain": NOT_ROBUST, "reference_accuracy": 0.27}, AT_DID_NOT_FIT),
        # Not robust AND significant: still not the models the claim is about.
        (DOWN, {"robust_gain": NOT_ROBUST}, AT_DID_NOT_FIT),
        # At the floor AND significant: the floor comes before the test.
        (UP, {"reference_accuracy": 0.27, "p_value": 0.0}, CANNOT_DISCRIMINATE),
        (DOWN, {"reference_accuracy": 0.99, "robust_gain": ROBUST}, CANNOT_DISCRIMINATE),
        # Significant in the wrong direction with a fit model off the floor: reversed.
        (DOWN, {"robust_gain": ROBUST}, REVERSED),
    ],
)
def test_verdict_order_when_two_rules_apply(difference, kwargs, expected):
    assert verdict(difference, **{**VERDICT_ARGUMENTS, **kwargs}) == expected


# Binary-exact margins (0.25 + 0.125 = 0.375, 1 - 0.125 = 0.875): the boundaries are hit
# exactly, and math.nextafter steps one ulp off them.
EXACT = {"expected": "higher", "chance": 0.25, "floor": 0.125}


@pytest.mark.parametrize(
    "accuracy,expected",
    [
        (0.375, CANNOT_DISCRIMINATE),  # exactly chance + floor: "within" the floor
        (math.nextafter(0.375, 1.0), HOLDS),
        (0.875, CANNOT_DISCRIMINATE),  # exactly 1 - floor
        (math.nextafter(0.875, 0.0), HOLDS),
    ],
)
def test_floor_and_ceiling_include_their_boundary(accuracy, expected):
    """Catches ``<`` for ``<=`` (``>`` for ``>=``) in the floor and ceiling checks: an
    accuracy exactly ``floor`` away from chance or from 100% is within the floor."""
    assert verdict(UP, reference_accuracy=accuracy, **EXACT) == expected


@pytest.mark.parametrize(
    "low,expected",
    [(0.25, AT_DID_NOT_FIT), (math.nextafter(0.25, 1.0), HOLDS), (0.1, AT_DID_NOT_FIT)],
)
def test_fit_check_needs_the_lower_end_strictly_above_the_threshold(low, expected):
    """Catches ``>=`` for ``>`` (an interval that only touches the threshold does not
    clear it) and a check on the point estimate (0.3 here, above 0.25 either way)."""
    gain = _difference(0.3, low, 0.4, 0.001)
    arguments = {**VERDICT_ARGUMENTS, "robust_gain": gain, "min_robust_gain": 0.25}
    assert verdict(UP, **arguments) == expected


@pytest.mark.parametrize("p,expected", [(0.05, HOLDS), (math.nextafter(0.05, 1.0), NO_DIFFERENCE)])
def test_verdict_decides_at_p_equal_to_alpha(p, expected):
    """Catches ``p >= alpha`` read as "no difference": the rule is ``p <= alpha``, the
    same as :func:`holm`'s rejection."""
    assert verdict(UP, p_value=p, alpha=0.05, **VERDICT_ARGUMENTS) == expected


def test_holm_caps_every_adjusted_p_at_one():
    """Catches the cap at 1 left out: sorted, 0.6 x 2 = 1.2 and 0.7 x 1 = 0.7, raised to
    1.2 by the running maximum; an adjusted p-value is a probability, so both read 1."""
    result = holm([0.7, 0.6])
    assert result.adjusted == (1.0, 1.0)
    # 0.1 x 3 = 0.3; 0.8 x 2 = 1.6 -> 1; 0.9 x 1 = 0.9, raised to 1 by the running maximum.
    assert holm([0.9, 0.8, 0.1]).adjusted == pytest.approx((1.0, 1.0, 0.3), rel=1e-12)
