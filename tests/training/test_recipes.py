"""The paper's recipes as presets."""

from __future__ import annotations

import dataclasses

import pytest

from shapebias.attacks import FGSM, PGD
from shapebias.training import (
    AdversarialLoss,
    FGSMRSLoss,
    Recipe,
    StandardLoss,
    StopAtAccuracy,
)
from shapebias.training._checks import check_plain
from tests.training._data import conv_net, loader, two_feature_data


def test_presets_build_the_documented_losses():
    assert isinstance(Recipe.standard().loss, StandardLoss)
    linf = Recipe.pgd_linf(8 / 255)
    assert linf.loss == AdversarialLoss(PGD(eps=8 / 255, steps=7, step_size=2.5 * 8 / 255 / 7))
    l2 = Recipe.pgd_l2(0.5, steps=5)
    assert l2.loss.attack.norm == "l2" and l2.loss.attack.steps == 5 and l2.eps == 0.5
    assert Recipe.fgsm(4 / 255).loss == AdversarialLoss(FGSM(eps=4 / 255))
    assert Recipe.fgsm(4 / 255, random_start=True).loss == FGSMRSLoss(eps=4 / 255)


def test_underfit_is_standard_training_stopped_early():
    short = Recipe.underfit()
    assert isinstance(short.loss, StandardLoss) and short.epochs == 10 and short.callbacks == ()
    matched = Recipe.underfit(epochs=30, match_accuracy=0.85)
    assert isinstance(matched.callbacks[0], StopAtAccuracy) and matched.callbacks[0].target == 0.85
    assert "0.8500" in matched.description


def test_optimizer_scheduler_and_eval_attack():
    recipe = dataclasses.replace(Recipe.pgd_linf(8 / 255), epochs=8)
    model = conv_net()
    optimizer = recipe.optimizer(model)
    assert optimizer.defaults["lr"] == 0.1 and optimizer.defaults["weight_decay"] == 5e-4
    scheduler = recipe.scheduler(optimizer)
    lrs = []
    for _ in range(8):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)
    assert recipe.eval_attack() == PGD(eps=8 / 255, steps=10)
    assert Recipe.standard().eval_attack() is None


def test_meta_is_plain():
    for recipe in (Recipe.standard(), Recipe.underfit(match_accuracy=0.5), Recipe.pgd_l2(0.5)):
        meta = check_plain(recipe.meta(data="synthetic"), "meta")
        assert meta["recipe"] == recipe.name and meta["data"] == "synthetic"


def test_recipe_fit_runs_and_underfit_stops_at_target():
    images, labels = two_feature_data(64)
    model = conv_net()
    recipe = dataclasses.replace(Recipe.underfit(epochs=5, match_accuracy=0.0), lr=0.01)
    history = recipe.fit(model, loader(images, labels), eval_data=(images, labels), progress=False)
    assert len(history) == 1  # accuracy >= 0 at once: stopped after the first epoch
    robust = dataclasses.replace(Recipe.pgd_linf(0.03, steps=2), epochs=1, lr=0.01)
    history = robust.fit(
        conv_net(), loader(images, labels), eval_data=(images, labels), progress=False
    )
    assert "robust_accuracy" in history[0]


def test_preset_errors():
    with pytest.raises(ValueError, match="eps must be > 0"):
        Recipe.pgd_linf(0.0)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        Recipe.standard(epochs=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        Recipe.pgd_l2(0.5, steps=0)
    with pytest.raises(TypeError, match="eps must be a real number"):
        Recipe.fgsm("8/255")
