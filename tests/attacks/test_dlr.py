import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import dlr_loss, targeted_dlr_loss
from tests.attacks._reference_autoattack import reference_dlr


def _logits(seed, n=6, k=5):
    return torch.randn(n, k, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@given(seed=st.integers(0, 2**31))
def test_dlr_matches_its_formula(seed):
    z = _logits(seed)
    y = torch.randint(0, 5, (6,), generator=torch.Generator().manual_seed(seed + 1))
    t = (y + 1 + torch.randint(0, 4, (6,), generator=torch.Generator().manual_seed(seed))) % 5
    expected = torch.tensor([reference_dlr(z[i], int(y[i])) for i in range(6)], dtype=z.dtype)
    expected_t = torch.tensor(
        [reference_dlr(z[i], int(y[i]), int(t[i])) for i in range(6)], dtype=z.dtype
    )
    torch.testing.assert_close(dlr_loss(z, y), expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(targeted_dlr_loss(z, y, t), expected_t, rtol=1e-12, atol=1e-12)


def test_dlr_is_shift_and_scale_invariant_and_positive_iff_misclassified():
    z, y = _logits(3), torch.tensor([0, 1, 2, 3, 4, 0])
    base = dlr_loss(z, y)
    torch.testing.assert_close(dlr_loss(7.5 * z - 3.0, y), base)
    assert torch.equal(base > 0, z.argmax(1) != y)
    t = (y + 1) % 5
    torch.testing.assert_close(targeted_dlr_loss(4.0 * z + 1.0, y, t), targeted_dlr_loss(z, y, t))
    assert torch.equal(
        targeted_dlr_loss(z, y, t) > 0,
        z.gather(1, t[:, None])[:, 0] > z.gather(1, y[:, None])[:, 0],
    )


def test_dlr_hand_values():
    z = torch.tensor([[1.0, 5.0, 2.0, 0.0]])
    # true class 0: -(1 - 5) / (5 - 1) = 1; targeted towards 2: -(1 - 2) / (5 - (1 + 0) / 2)
    assert dlr_loss(z, torch.tensor([0])).item() == pytest.approx(1.0)
    assert targeted_dlr_loss(z, torch.tensor([0]), torch.tensor([2])).item() == pytest.approx(
        1 / 4.5
    )
