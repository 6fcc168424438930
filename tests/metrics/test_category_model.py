"""CategoryModel: a 1000-class model as a 16-category one (the rule itself: test_stimuli.py)."""

from __future__ import annotations

import pytest
import torch

from shapebias.attacks import PGD, robust_accuracy
from shapebias.metrics import IMAGENET_16_CLASS_MAP, CategoryModel, aggregate_probabilities


def test_outputs_are_log_mean_probabilities_and_attackable():
    network = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 1000)).eval()
    images = torch.rand(6, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    model = CategoryModel(network)
    scores = model(images)
    torch.testing.assert_close(
        scores.exp(), aggregate_probabilities(network(images), IMAGENET_16_CLASS_MAP)
    )
    assert model.categories == tuple(IMAGENET_16_CLASS_MAP) and scores.shape == (6, 16)
    labels = scores.argmax(1)
    result = robust_accuracy(model, (images, labels), PGD(eps=0.5, steps=5), progress=False)
    assert result.clean == 1.0 and result.robust < 1.0  # gradients flow through the rule


def test_refuses_models_the_map_does_not_fit_and_probability_outputs():
    with pytest.raises(
        ValueError, match=r"refers to model class 914, but the model has only 10 outputs"
    ):
        CategoryModel(lambda x: torch.zeros(x.shape[0], 10))(torch.rand(2, 3, 2, 2))
    with pytest.raises(ValueError, match=r"look like probabilities"):
        CategoryModel(lambda x: torch.full((x.shape[0], 1000), 1e-3))(torch.rand(2, 3, 2, 2))
    with pytest.raises(TypeError, match=r"model must be callable"):
        CategoryModel(3)
