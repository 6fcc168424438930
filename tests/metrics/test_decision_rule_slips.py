"""The 1000 -> 16 decision rule on logits where every plausible wrong rule disagrees.

Geirhos et al.'s rule: a category's score is the mean softmax probability of its member
classes. Each row below is won by a different category under the mean of member logits,
the sum of member probabilities and the largest member probability, so a rule that
agrees with the mean of probabilities on all rows is that rule.
"""

from __future__ import annotations

import math

import pytest
import torch

from shapebias.metrics import CategoryModel, aggregate_probabilities, shape_bias

CLASS_MAP = {"a": [0], "b": [1, 2, 3, 4], "c": [5, 6]}
LOW = -30.0
LOGITS = torch.tensor(
    [
        [2.0, 1.0, 1.0, 1.0, 1.0, LOW, LOW],  # mean -> a; sum -> b
        [0.0, LOW, LOW, LOW, LOW, 3.0, -6.0],  # mean -> c; mean logit -> a
        [1.5, LOW, LOW, LOW, LOW, 2.0, LOW],  # mean -> a; largest member -> c
    ],
    dtype=torch.float64,
)
MEAN_RULE = [0, 2, 0]


def _brute_force(logits):
    """Softmax and averages with Python floats, one row at a time."""
    rows = []
    for row in logits.tolist():
        total = sum(math.exp(v) for v in row)
        rows.append([sum(math.exp(row[i]) / total for i in m) / len(m) for m in CLASS_MAP.values()])
    return torch.tensor(rows, dtype=torch.float64)


def test_the_rows_separate_the_wrong_rules():
    """The test's premise, checked: each wrong rule loses at least one row."""

    def winners(score):
        return [max(CLASS_MAP, key=lambda k: score(row, CLASS_MAP[k])) for row in LOGITS.tolist()]

    probabilities = [[math.exp(v) for v in row] for row in LOGITS.tolist()]
    mean_logit = winners(lambda row, m: sum(row[i] for i in m) / len(m))
    sums = [max(CLASS_MAP, key=lambda k: sum(p[i] for i in CLASS_MAP[k])) for p in probabilities]
    largest = [max(CLASS_MAP, key=lambda k: max(p[i] for i in CLASS_MAP[k])) for p in probabilities]
    right = [list(CLASS_MAP)[i] for i in MEAN_RULE]
    for wrong in (mean_logit, sums, largest):
        assert wrong != right


def test_aggregate_probabilities_and_category_model_follow_the_mean_rule():
    expected = _brute_force(LOGITS)
    torch.testing.assert_close(aggregate_probabilities(LOGITS, CLASS_MAP), expected)
    model = CategoryModel(lambda x: LOGITS[x.flatten().long()], CLASS_MAP)
    scores = model(torch.arange(3, dtype=torch.float64).view(3, 1, 1, 1))
    torch.testing.assert_close(scores.exp(), expected)
    assert scores.argmax(1).tolist() == MEAN_RULE


def test_shape_bias_decides_with_the_mean_rule():
    """Shapes are the mean rule's answers and textures the other rules' answers: only
    the mean rule gives a shape bias of 1."""
    images = torch.arange(3, dtype=torch.float64).view(3, 1, 1, 1) / 255
    shapes = torch.tensor(MEAN_RULE)
    textures = torch.tensor([1, 0, 2])  # sum, mean logit, largest member
    result = shape_bias(
        lambda x: LOGITS[(x.flatten() * 255).round().long()], (images, shapes, textures),
        class_map=CLASS_MAP, num_bootstrap=0, progress=False,
    )  # fmt: skip
    assert result.decisions.tolist() == MEAN_RULE
    assert (result.shape_decisions, result.texture_decisions) == (3, 0)
    assert result.shape_bias.value == pytest.approx(1.0)
