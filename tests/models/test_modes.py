import warnings

import pytest
from torch import nn

from shapebias.models import TrainModeWarning, eval_mode, frozen, train_mode, warn_if_train_mode


def _model():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2), nn.Dropout(0.1))
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a training model
    model[0].bias.requires_grad_(False)
    return model


def _state(model):
    return [m.training for m in model.modules()], [p.requires_grad for p in model.parameters()]


@pytest.mark.parametrize("context", [eval_mode, train_mode])
def test_mode_contexts_restore_every_flag(context):
    model = _model()
    before = _state(model)
    with context(model):
        expected = context is train_mode
        assert all(m.training == expected for m in model.modules())
    assert _state(model) == before


@pytest.mark.parametrize("context", [eval_mode, train_mode, frozen])
def test_contexts_restore_on_exception(context):
    model = _model()
    before = _state(model)
    with pytest.raises(RuntimeError, match="boom"), context(model):
        raise RuntimeError("boom")
    assert _state(model) == before


def test_frozen_turns_off_and_restores_requires_grad():
    model = _model()
    before = _state(model)
    with frozen(model):
        assert not any(p.requires_grad for p in model.parameters())
    assert _state(model) == before


def test_train_mode_warning_only_with_bn_or_dropout():
    with pytest.warns(TrainModeWarning, match="my_op"):
        warn_if_train_mode(_model(), "my_op")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_train_mode(nn.Linear(2, 2).train(), "my_op")
        warn_if_train_mode(_model().eval(), "my_op")
        warn_if_train_mode(lambda x: x, "my_op")
