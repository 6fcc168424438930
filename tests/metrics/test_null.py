"""texture_blind_null: the expected shape bias of a model that ignores texture."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shapebias.metrics import texture_blind_null


def _texture_blind_bias(s: Fraction, k: int) -> Fraction:
    """Exact S / (S + T) of the model over every ordered (shape, texture) pair, s != t.

    It names the shape with probability s, else each of the other k - 1 classes with
    probability (1 - s) / (k - 1): summed, not estimated.
    """
    shape = texture = Fraction(0)
    for shape_class, texture_class in itertools.permutations(range(k), 2):
        for decision in range(k):
            p = s if decision == shape_class else (1 - s) / (k - 1)
            shape += p * (decision == shape_class)
            texture += p * (decision == texture_class)
    return shape / (shape + texture)


@given(numerator=st.integers(0, 20), k=st.integers(2, 6))
def test_equals_the_exact_bias_of_a_texture_blind_model(numerator, k):
    s = Fraction(numerator, 20)
    assert texture_blind_null(float(s), k) == pytest.approx(float(_texture_blind_bias(s, k)))


def test_chance_shape_accuracy_gives_an_unbiased_half_and_bounds_hold():
    assert texture_blind_null(1 / 16, 16) == pytest.approx(0.5)  # chance: no preference
    assert texture_blind_null(1.0, 16) == 1.0 and texture_blind_null(0.0, 16) == 0.0
    with pytest.raises(ValueError, match=r"shape_only_accuracy must be >= 0 and <= 1, got 1\.5"):
        texture_blind_null(1.5, 16)
    with pytest.raises(ValueError, match=r"num_classes must be >= 2, got 1"):
        texture_blind_null(0.5, 1)
