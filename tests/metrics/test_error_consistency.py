import json
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.metrics import ErrorConsistency, error_consistency


def reference_kappa(a, b):
    """Literal formula of Geirhos et al. (2020), on Python lists."""
    n = len(a)
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    p_a, p_b = sum(a) / n, sum(b) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return math.nan if expected == 1 else (observed - expected) / (1 - expected)


def test_exact_numbers():
    a = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 1, 1], dtype=torch.bool)
    b = torch.tensor([1, 1, 1, 0, 0, 0, 1, 1, 1, 1], dtype=torch.bool)
    result = error_consistency(a, b)
    assert isinstance(result, ErrorConsistency)
    # Agree on 7 of 10; p_a = 0.6, p_b = 0.7; c_exp = 0.42 + 0.12 = 0.54.
    assert result.observed == 0.7
    assert result.accuracy_a == 0.6 and result.accuracy_b == 0.7
    assert result.expected == pytest.approx(0.54, abs=1e-15)
    assert result.kappa.value == pytest.approx((0.7 - 0.54) / (1 - 0.54), abs=1e-12)
    assert result.total == 10


def test_defining_cases():
    a = torch.tensor([True, True, False, False])
    assert error_consistency(a, a).kappa.value == 1.0
    assert error_consistency(a, ~a).kappa.value == -1.0
    # Independent by construction: agreement equals what the accuracies predict.
    assert error_consistency(a, torch.tensor([True, False, True, False])).kappa.value == 0.0
    # One observer always right: c_exp = p_b = c_obs, kappa 0.
    assert error_consistency(torch.ones(4, dtype=torch.bool), a).kappa.value == 0.0
    # Both always right: nothing to compare.
    both = error_consistency(torch.ones(4, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
    assert math.isnan(both.kappa.value) and math.isnan(both.kappa.low)
    assert json.loads(json.dumps(both.to_dict(), allow_nan=False))["kappa"]["value"] is None


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_matches_the_literal_formula_and_is_symmetric(pairs):
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    kappa = error_consistency(a, b, num_bootstrap=0).kappa.value
    swapped = error_consistency(b, a, num_bootstrap=0).kappa.value
    expected = reference_kappa([int(x) for x in a], [int(x) for x in b])
    if math.isnan(expected):
        assert math.isnan(kappa) and math.isnan(swapped)
    else:
        assert kappa == pytest.approx(expected, abs=1e-12)
        assert swapped == pytest.approx(kappa, abs=1e-12)
        assert -1.0 - 1e-12 <= kappa <= 1.0 + 1e-12


def test_integer_outcomes_equal_booleans():
    a = torch.tensor([1, 0, 1, 1, 0])
    b = torch.tensor([1, 1, 0, 1, 0])
    assert error_consistency(a, b).to_dict() == error_consistency(a.bool(), b.bool()).to_dict()


def test_interval_covers_and_shrinks():
    a = torch.tensor([1, 1, 1, 0, 0, 1, 0, 1], dtype=torch.bool)
    b = torch.tensor([1, 1, 0, 0, 0, 1, 1, 1], dtype=torch.bool)
    small = error_consistency(a, b).kappa
    large = error_consistency(a.repeat(50), b.repeat(50)).kappa
    assert large.value == pytest.approx(small.value, abs=1e-12)
    for e in (small, large):
        assert e.low <= e.value <= e.high
    assert large.high - large.low < small.high - small.low
    assert error_consistency(a, b, seed=5).kappa == error_consistency(a, b, seed=5).kappa


@pytest.mark.parametrize(
    ("a", "b", "error", "match"),
    [
        (torch.ones(3).bool(), torch.ones(4).bool(), ValueError, "got lengths 3 and 4"),
        ([True, False], torch.ones(2).bool(), TypeError, "correct_a must be a 1-D torch.Tensor"),
        (torch.ones(2).bool(), torch.zeros(0).bool(), ValueError, "correct_b must be a non-empty"),
        (torch.ones(2, 2).bool(), torch.ones(2).bool(), ValueError, "1-D tensor"),
        (torch.tensor([0, 2]), torch.ones(2).bool(), ValueError, "integers 0 and 1"),
        (torch.tensor([0.0, 1.0]), torch.ones(2).bool(), ValueError, "booleans or the integers"),
    ],
)
def test_bad_input(a, b, error, match):
    with pytest.raises(error, match=match):
        error_consistency(a, b)


def test_bad_bootstrap_settings():
    a = torch.ones(2).bool()
    with pytest.raises(ValueError, match="confidence"):
        error_consistency(a, a, confidence=1.5)
