import math

import numpy as np
import pytest

from shapebias.metrics import Estimate
from shapebias.metrics._bootstrap import estimate, resample_counts, share

MEAN = share([1], [0, 1])


def test_resample_counts_keeps_the_total_and_is_seeded():
    counts = np.array([3, 0, 7])
    draws = resample_counts(counts, 50, seed=1)
    assert draws.shape == (50, 3)
    assert (draws.sum(1) == 10).all()
    assert (draws[:, 1] == 0).all()  # an empty cell stays empty
    assert np.array_equal(draws, resample_counts(counts, 50, seed=1))
    assert not np.array_equal(draws, resample_counts(counts, 50, seed=2))


def test_cell_bootstrap_matches_resampling_items():
    """Drawing multinomial cell counts equals, in distribution, resampling the items."""
    items = np.array([1] * 60 + [0] * 140)
    rng = np.random.default_rng(0)
    literal = np.array([items[rng.integers(0, 200, 200)].mean() for _ in range(4000)])
    counts = np.bincount(items, minlength=2)
    fast = estimate(MEAN, counts, resample_counts(counts, 4000, seed=0), 0.95)
    low, high = np.quantile(literal, [0.025, 0.975])
    assert fast.value == 0.3
    assert fast.low == pytest.approx(low, abs=0.01)
    assert fast.high == pytest.approx(high, abs=0.01)


def test_interval_covers_the_value_and_shrinks_with_more_samples():
    widths = []
    for n in (20, 200, 2000):
        counts = np.array([n // 4 * 3, n // 4])
        e = estimate(MEAN, counts, resample_counts(counts, 500, seed=0), 0.95)
        assert e.low <= e.value <= e.high
        widths.append(e.high - e.low)
    assert widths[0] > widths[1] > widths[2] > 0


def test_higher_confidence_gives_a_wider_interval():
    counts = np.array([30, 10])
    resampled = resample_counts(counts, 1000, seed=0)
    narrow = estimate(MEAN, counts, resampled, 0.5)
    wide = estimate(MEAN, counts, resampled, 0.99)
    assert wide.low <= narrow.low <= narrow.high <= wide.high


def test_undefined_values_give_nan_and_no_bootstrap_gives_no_interval():
    ratio = share([1], [1, 2])
    undefined = estimate(
        ratio, np.array([5, 0, 0]), resample_counts(np.array([5, 0, 0]), 10, 0), 0.95
    )
    assert math.isnan(undefined.value) and math.isnan(undefined.low)
    no_bootstrap = estimate(MEAN, np.array([1, 3]), resample_counts(np.array([1, 3]), 0, 0), 0.95)
    assert no_bootstrap.value == 0.75 and math.isnan(no_bootstrap.high)


def test_estimate_object():
    e = Estimate(0.5, 0.25, math.nan)
    assert float(e) == 0.5
    assert e.to_dict() == {"value": 0.5, "low": 0.25, "high": None}
