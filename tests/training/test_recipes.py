"""The paper's recipes as presets."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from shapebias.attacks import FGSM, PGD
from shapebias.data import ShapeTextureDataset
from shapebias.models import small_cnn
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
    recipe = Recipe.underfit(epochs=5, match_accuracy=0.0, optimizer="adam")
    history = recipe.fit(model, loader(images, labels), eval_data=(images, labels), progress=False)
    assert len(history) == 1  # accuracy >= 0 at once: stopped after the first epoch
    robust = Recipe.pgd_linf(0.03, steps=2, epochs=1, optimizer="adam")
    history = robust.fit(
        conv_net(), loader(images, labels), eval_data=(images, labels), progress=False
    )
    assert "robust_accuracy" in history[0]


def test_adam_option_is_adam_with_a_one_cycle_schedule_per_batch():
    for recipe in (
        Recipe.standard(optimizer="adam"),
        Recipe.underfit(optimizer="adam"),
        Recipe.pgd_linf(4 / 255, optimizer="adam"),
        Recipe.pgd_l2(0.5, optimizer="adam"),
        Recipe.fgsm(4 / 255, random_start=True, optimizer="adam"),
    ):
        assert (recipe.optimizer_kind, recipe.lr, recipe.weight_decay) == ("adam", 5e-3, 0.0)
        assert recipe.scheduler_step == "batch" and recipe.meta()["optimizer"] == "adam"
    recipe = Recipe.standard(epochs=2, optimizer="adam")
    optimizer = recipe.optimizer(conv_net())
    assert isinstance(optimizer, torch.optim.Adam)
    scheduler = recipe.scheduler(optimizer, steps_per_epoch=5)
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    peak = max(range(10), key=lrs.__getitem__)
    assert 0 < peak < 9 and lrs[peak] == pytest.approx(5e-3, rel=0.05)  # up, then down
    assert lrs[0] < lrs[peak] / 10 and lrs[-1] < lrs[peak] / 10
    with pytest.raises(ValueError, match="optimizer must be one of 'sgd', 'adam'"):
        Recipe.standard(optimizer="rmsprop")
    with pytest.raises(TypeError, match="steps_per_epoch must be an int"):
        recipe.scheduler(optimizer)


def _shape_texture_tensors(split, size):
    dataset = ShapeTextureDataset(split, size=size, num_classes=4, image_size=16, seed=0)
    images, labels = zip(*(dataset[i] for i in range(size)), strict=True)
    return torch.stack(images), torch.tensor(labels)


def test_short_sgd_schedule_warns_and_adam_learns_in_that_budget():
    """The defaults must learn in few epochs or say so: SGD warns (and stays near chance
    here), the Adam option learns in the same 4 epochs."""
    images, labels = _shape_texture_tensors("train", 1500)
    validation = _shape_texture_tensors("test", 200)
    accuracy = {}
    for optimizer in ("sgd", "adam"):
        torch.manual_seed(0)
        recipe = Recipe.standard(epochs=4, optimizer=optimizer)
        data = loader(images, labels, seed=0)
        if optimizer == "sgd":
            with pytest.warns(UserWarning, match="only 4 epochs; below 30 it may stay near"):
                history = recipe.fit(small_cnn(4, width=16), data, eval_data=validation,
                                     progress=False)  # fmt: skip
        else:
            history = recipe.fit(small_cnn(4, width=16), data, eval_data=validation,
                                 progress=False)  # fmt: skip
        accuracy[optimizer] = history[-1]["clean_accuracy"]
    # Measured: SGD 0.28 (chance 0.25), Adam 0.575.
    assert accuracy["sgd"] < 0.35 and accuracy["adam"] >= 0.45
    batches = iter([(images[:8], labels[:8])])
    with pytest.raises(TypeError, match="needs len\\(train_data\\) batches per epoch"):
        Recipe.standard(epochs=1, optimizer="adam").fit(conv_net(), batches, progress=False)


def test_preset_errors():
    with pytest.raises(ValueError, match="eps must be > 0"):
        Recipe.pgd_linf(0.0)
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        Recipe.standard(epochs=0)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        Recipe.pgd_l2(0.5, steps=0)
    with pytest.raises(TypeError, match="eps must be a real number"):
        Recipe.fgsm("8/255")
