import pytest
import torch
from scipy import stats

from shapebias._stats import rank_correlation, ranks


def test_ranks_match_scipy_with_ties():
    values = torch.randint(0, 5, (4, 40), generator=torch.Generator().manual_seed(0)).double()
    expected = torch.tensor(stats.rankdata(values.numpy(), axis=1))
    assert torch.equal(ranks(values), expected)


def test_rank_correlation_matches_scipy():
    generator = torch.Generator().manual_seed(1)
    a = torch.randint(0, 6, (3, 2, 5, 5), generator=generator).double()
    b = torch.randn(3, 2, 5, 5, generator=generator, dtype=torch.float64)
    expected = [stats.spearmanr(a[i].flatten(), b[i].flatten()).statistic for i in range(3)]
    assert rank_correlation(a, b).tolist() == pytest.approx(expected, abs=1e-12)


def test_rank_correlation_identity_and_reversal():
    a = torch.randn(2, 10, generator=torch.Generator().manual_seed(2))
    assert rank_correlation(a, a).tolist() == pytest.approx([1.0, 1.0])
    assert rank_correlation(a, -a).tolist() == pytest.approx([-1.0, -1.0])


def test_rank_correlation_of_constant_map_is_nan():
    a = torch.ones(1, 10)
    assert torch.isnan(rank_correlation(a, torch.arange(10.0)[None])).all()
