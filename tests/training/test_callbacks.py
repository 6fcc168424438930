"""Catastrophic-overfitting monitor and early stopping on accuracy."""

from __future__ import annotations

import pytest
import torch

from shapebias.attacks import PGD
from shapebias.training import (
    CatastrophicOverfittingMonitor,
    CatastrophicOverfittingWarning,
    StopAtAccuracy,
    TrainingState,
)
from tests.training._data import conv_net, two_feature_data


class _Brightness(torch.nn.Module):
    """Predicts class 1 for images brighter than 0.5; ``scale`` is a trainable parameter."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.norm = torch.nn.BatchNorm1d(1)  # only so that modes matter

    def forward(self, images):
        centred = images.mean((1, 2, 3)) - 0.5
        return self.scale * torch.stack([-centred, centred], 1)


class _Scripted:
    """An attack that fools the brightness model or not, as scripted per call."""

    def __init__(self, fooled: list[bool]):
        self.fooled = list(fooled)

    def __call__(self, model, images, labels):
        return 1 - images if self.fooled.pop(0) else images


def _separable():
    images, _ = two_feature_data(16, seed=5)
    labels = (images.mean((1, 2, 3)) > 0.5).long()
    return _Brightness().eval(), images, labels


def _run(monitor, model, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    state = TrainingState(model=model, optimizer=optimizer, device=torch.device("cpu"))
    for _ in range(epochs):
        state.epoch += 1
        state.history.append({"epoch": state.epoch})
        with torch.no_grad():
            model.scale.add_(1.0)  # the weights move every epoch
        monitor.on_epoch_end(state)
        if state.stop:
            break
    return state


def test_monitor_records_and_stays_quiet_without_collapse():
    model, images, labels = _separable()
    monitor = CatastrophicOverfittingMonitor(
        images, labels, eps=0.03, fgsm=_Scripted([False] * 3), pgd=_Scripted([False] * 3)
    )
    state = _run(monitor, model, 3)
    assert [e["pgd_accuracy"] for e in state.history] == [1.0, 1.0, 1.0]
    assert not state.stop and monitor.best_epoch == 1


def test_monitor_warns_on_collapse_and_keeps_going():
    model, images, labels = _separable()
    monitor = CatastrophicOverfittingMonitor(
        images, labels, eps=0.03, fgsm=_Scripted([False] * 3), pgd=_Scripted([False, True, False])
    )
    with pytest.warns(CatastrophicOverfittingWarning, match="catastrophic overfitting at epoch 2"):
        state = _run(monitor, model, 3)
    assert len(state.history) == 3 and not state.stop
    assert state.history[1]["pgd_accuracy"] == 0.0 and state.history[1]["fgsm_accuracy"] == 1.0


def test_monitor_restores_best_epoch_and_stops():
    model, images, labels = _separable()
    monitor = CatastrophicOverfittingMonitor(
        images,
        labels,
        eps=0.03,
        action="restore",
        fgsm=_Scripted([False] * 3),
        pgd=_Scripted([False, False, True]),
    )
    with pytest.warns(CatastrophicOverfittingWarning, match="Restored the weights of epoch 1"):
        state = _run(monitor, model, 3)
    assert state.stop and len(state.history) == 3
    assert state.history[-1]["restored_epoch"] == 1
    assert float(model.scale.detach()) == 2.0  # the weights after epoch 1


def test_monitor_needs_fgsm_to_stay_high():
    """PGD and FGSM falling together is plain weakness, not catastrophic overfitting."""
    model, images, labels = _separable()
    monitor = CatastrophicOverfittingMonitor(
        images,
        labels,
        eps=0.03,
        action="stop",
        fgsm=_Scripted([False, True]),
        pgd=_Scripted([False, True]),
    )
    assert not _run(monitor, model, 2).stop


def test_monitor_with_real_attacks_keeps_model_state():
    model, images, labels = _separable()
    model.train()
    monitor = CatastrophicOverfittingMonitor(images, labels, eps=0.03, pgd_steps=2)
    monitor.on_epoch_end(
        TrainingState(
            model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"), 1, [{}]
        )
    )
    assert model.training and model.norm.training
    restored = CatastrophicOverfittingMonitor(images, labels, eps=0.03)
    restored.load_state_dict(monitor.state_dict())
    assert restored.best_accuracy == monitor.best_accuracy


def test_stop_at_accuracy():
    model = conv_net()
    state = TrainingState(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.device("cpu"))
    state.history.append({"clean_accuracy": 0.5})
    StopAtAccuracy(0.6).on_epoch_end(state)
    assert not state.stop
    state.history.append({"clean_accuracy": 0.6})
    StopAtAccuracy(0.6).on_epoch_end(state)
    assert state.stop
    with pytest.raises(ValueError, match="Pass eval_data to fit"):
        StopAtAccuracy(0.6).on_epoch_end(
            TrainingState(model, state.optimizer, state.device, 1, [{"loss": 1.0}])
        )


def test_callback_errors():
    images, labels = two_feature_data(4)
    with pytest.raises(ValueError, match="action must be one of"):
        CatastrophicOverfittingMonitor(images, labels, eps=0.03, action="panic")
    with pytest.raises(ValueError, match="drop must be"):
        CatastrophicOverfittingMonitor(images, labels, eps=0.03, drop=0.0)
    with pytest.raises(ValueError, match="labels must have shape"):
        CatastrophicOverfittingMonitor(images, labels[:2], eps=0.03)
    with pytest.raises(ValueError, match="target must be"):
        StopAtAccuracy(1.5)


def test_monitor_exposes_its_attacks_generators():
    images, labels = two_feature_data(8)
    generator = torch.Generator().manual_seed(0)
    pgd = PGD(eps=0.05, steps=2, generator=generator)
    assert CatastrophicOverfittingMonitor(images, labels, eps=0.05, pgd=pgd).generators() == [
        generator
    ]
    assert CatastrophicOverfittingMonitor(images, labels, eps=0.05).generators() == []
    unknown = CatastrophicOverfittingMonitor(images, labels, eps=0.05, fgsm=lambda m, x, y: x)
    assert unknown.generators() is None  # fit warns about it when checkpointing
