"""One declarative table of bad inputs to the training callables: each gets a clear error.

Every row is ``(id, callable, arguments, expected error, message fragment)``; the
arguments are built by a function of the fixture data, so the table reads as what is
passed. The fragment names the parameter (or the object) and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

from shapebias.attacks import PGD
from shapebias.training import (
    AdversarialLoss,
    Alternating,
    CatastrophicOverfittingMonitor,
    EpsWarmup,
    StandardLoss,
    Step,
    StopAtAccuracy,
    adversarial_loss,
    fgsm_rs_loss,
    fit,
    load_checkpoint,
    load_model,
    save_model,
    standard_loss,
    trades_loss,
)
from shapebias.training._losses import trades_adversary
from tests.training._data import conv_net, fit_arguments, two_feature_data

NAN, INF = float("nan"), float("inf")
IMAGES, LABELS = two_feature_data(8, seed=0)
MODEL = conv_net().eval()


def _batch(**kwargs: Any) -> tuple[tuple, dict]:
    return (MODEL, IMAGES, LABELS), kwargs


def _fit(**overrides: Any) -> tuple[tuple, dict]:
    return fit_arguments(overrides.pop("model", conv_net()), IMAGES, LABELS, **overrides)


def _tuple_model(x: torch.Tensor) -> tuple[torch.Tensor]:
    return (MODEL(x),)


Case = tuple[str, Callable[..., Any], Callable[[], tuple[tuple, dict]], type, str]

CASES: list[Case] = [
    # non-finite budgets and weights
    ("fgsm_rs eps=inf", fgsm_rs_loss, lambda: _batch(eps=INF), ValueError, "eps must be a finite"),
    ("fgsm_rs eps=nan", fgsm_rs_loss, lambda: _batch(eps=NAN), ValueError, "eps must be a finite"),
    (
        "fgsm_rs step_size=inf",
        fgsm_rs_loss,
        lambda: _batch(step_size=INF),
        ValueError,
        "step_size must be a finite",
    ),
    ("trades beta=inf", trades_loss, lambda: _batch(beta=INF), ValueError, "beta must be a finite"),
    ("trades beta=nan", trades_loss, lambda: _batch(beta=NAN), ValueError, "beta must be a finite"),
    ("trades beta<0", trades_loss, lambda: _batch(beta=-1.0), ValueError, "beta must be >= 0"),
    ("trades eps=inf", trades_loss, lambda: _batch(eps=INF), ValueError, "eps must be a finite"),
    (
        "trades eps tensor with nan",
        trades_loss,
        lambda: _batch(eps=torch.tensor([NAN] + [0.1] * 7)),
        ValueError,
        "eps must be finite for every sample, got nan",
    ),
    ("trades eps=8", trades_loss, lambda: _batch(eps=8.0), ValueError, "Did you mean 8/255"),
    (
        "trades step_size=nan",
        trades_loss,
        lambda: _batch(step_size=NAN),
        ValueError,
        "step_size must be a finite",
    ),
    ("trades steps=-1", trades_loss, lambda: _batch(steps=-1), ValueError, "steps must be >= 0"),
    ("trades steps=1.5", trades_loss, lambda: _batch(steps=1.5), TypeError, "steps must be an int"),
    (
        "trades generator=3",
        trades_loss,
        lambda: _batch(generator=3),
        TypeError,
        "generator must be a torch.Generator",
    ),
    (
        "trades attack_mode",
        trades_loss,
        lambda: _batch(attack_mode="both"),
        ValueError,
        "attack_mode must be one of",
    ),
    (
        "trades_adversary step_size=inf",
        trades_adversary,
        lambda: ((MODEL, IMAGES), dict(eps=0.1, steps=1, step_size=INF)),
        ValueError,
        "step_size must be a finite",
    ),
    # models that are not classifiers
    (
        "trades tuple model",
        trades_loss,
        lambda: ((_tuple_model, IMAGES, LABELS), dict(steps=1)),
        TypeError,
        "model must return a logits tensor",
    ),
    (
        "standard tuple model",
        standard_loss,
        lambda: ((_tuple_model, IMAGES, LABELS), {}),
        TypeError,
        "model must return a logits tensor",
    ),
    (
        "standard softmax model",
        standard_loss,
        lambda: ((lambda x: MODEL(x).softmax(1), IMAGES, LABELS), {}),
        ValueError,
        "look like probabilities",
    ),
    # images and labels
    (
        "standard uint8 images",
        standard_loss,
        lambda: ((MODEL, (IMAGES * 255).to(torch.uint8), LABELS), {}),
        TypeError,
        "float\\(\\) / 255",
    ),
    (
        "adversarial float labels",
        adversarial_loss,
        lambda: ((MODEL, IMAGES, LABELS.float()), dict(attack=PGD(eps=0.1))),
        TypeError,
        "labels must have dtype torch.int64",
    ),
    (
        "adversarial mix=nan",
        adversarial_loss,
        lambda: _batch(attack=PGD(eps=0.1), mix=NAN),
        ValueError,
        "mix must be",
    ),
    # fit: every argument, before the first step
    ("fit epochs=0", fit, lambda: _fit(epochs=0), ValueError, "epochs must be >= 1"),
    ("fit epochs=2.0", fit, lambda: _fit(epochs=2.0), TypeError, "epochs must be an int"),
    (
        "fit keep_checkpoints=0",
        fit,
        lambda: _fit(keep_checkpoints=0),
        ValueError,
        "keep_checkpoints must be >= 1",
    ),
    (
        "fit eval_batch_size=0",
        fit,
        lambda: _fit(eval_batch_size=0),
        ValueError,
        "eval_batch_size must be >= 1",
    ),
    ("fit progress=1", fit, lambda: _fit(progress=1), TypeError, "progress must be True or False"),
    ("fit resume='False'", fit, lambda: _fit(resume="False"), TypeError, "resume must be True"),
    ("fit device=meta", fit, lambda: _fit(device="meta"), ValueError, "meta device"),
    ("fit device=7.5", fit, lambda: _fit(device=7.5), ValueError, "device must be a torch.device"),
    (
        "fit foreign optimizer",
        fit,
        lambda: _fit(optimizer=torch.optim.SGD(conv_net().parameters(), lr=0.1)),
        ValueError,
        "none of them belongs to the model",
    ),
    (
        "fit eval_data triple",
        fit,
        lambda: _fit(eval_data=(IMAGES, LABELS, LABELS)),
        TypeError,
        "eval_data must be a pair",
    ),
    (
        "fit eval_data out of range",
        fit,
        lambda: _fit(eval_data=(IMAGES - 0.5, LABELS)),
        ValueError,
        "eval_data images must lie in \\[0, 1\\]",
    ),
    (
        "fit eval_data label too large",
        fit,
        lambda: _fit(eval_data=(IMAGES, LABELS + 2)),
        ValueError,
        "eval_data labels must be class indices below",
    ),
    (
        "fit eval_attack not callable",
        fit,
        lambda: _fit(eval_attack=8 / 255),
        TypeError,
        "eval_attack must be callable",
    ),
    (
        "fit checkpoint_dir int",
        fit,
        lambda: _fit(checkpoint_dir=5),
        TypeError,
        "checkpoint_dir must be a folder path",
    ),
    (
        "fit uint8 train_data",
        fit,
        lambda: _fit(train_data=[((IMAGES * 255).to(torch.uint8), LABELS)]),
        TypeError,
        "train_data images must be a floating-point",
    ),
    (
        "fit generators not generators",
        fit,
        lambda: _fit(generators=["seed"]),
        TypeError,
        "must return torch.Generator objects",
    ),
    (
        "fit loss exposing non-generators",
        fit,
        lambda: _fit(loss=_BadGenerators()),
        TypeError,
        "_BadGenerators.generators\\(\\) must return torch.Generator",
    ),
    # schedules, callbacks, files
    (
        "EpsWarmup of StandardLoss",
        lambda: EpsWarmup(StandardLoss(), epochs=1).at(_step()),
        lambda: ((), {}),
        TypeError,
        "EpsWarmup needs a loss with a budget",
    ),
    (
        "EpsWarmup of an unknown attack",
        lambda: EpsWarmup(AdversarialLoss(lambda m, x, y: x), epochs=1).at(_step()),
        lambda: ((), {}),
        TypeError,
        "cannot scale the budget of a function attack",
    ),
    (
        "Alternating of one",
        Alternating,
        lambda: (((StandardLoss(),),), {}),
        ValueError,
        "at least two losses",
    ),
    (
        "monitor eps=nan",
        CatastrophicOverfittingMonitor,
        lambda: ((IMAGES, LABELS), dict(eps=NAN)),
        ValueError,
        "eps must be",
    ),
    (
        "monitor action",
        CatastrophicOverfittingMonitor,
        lambda: ((IMAGES, LABELS), dict(eps=0.1, action="panic")),
        ValueError,
        "action must be one of",
    ),
    ("StopAtAccuracy nan", StopAtAccuracy, lambda: ((NAN,), {}), ValueError, "target must be"),
    (
        "save_model non-module",
        save_model,
        lambda: (("/nonexistent/m.pt", lambda x: x), dict(meta={})),
        TypeError,
        "model must be a torch.nn.Module",
    ),
    (
        "save_model meta object",
        save_model,
        lambda: (("/nonexistent/m.pt", conv_net()), dict(meta={"f": object()})),
        TypeError,
        "meta\\['f'\\] must hold only",
    ),
    (
        "load_model missing",
        load_model,
        lambda: (("/nonexistent/m.pt",), {}),
        FileNotFoundError,
        "no shapebias-model file",
    ),
    (
        "load_checkpoint missing",
        load_checkpoint,
        lambda: (("/nonexistent/checkpoint-00001.pt",), {}),
        FileNotFoundError,
        "no shapebias-checkpoint file",
    ),
]


class _BadGenerators:
    def __call__(self, model, images, labels):
        return standard_loss(model, images, labels)

    def generators(self):
        return [0]


def _step() -> Step:
    return Step(epoch=0, batch=0, batches=1, global_step=0)


@pytest.mark.parametrize(
    ("function", "arguments", "error", "fragment"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_gets_a_clear_error(function, arguments, error, fragment):
    args, kwargs = arguments()
    with pytest.raises(error, match=fragment):
        function(*args, **kwargs)


def test_bad_inputs_leave_the_model_untouched():
    """Rows that reach a model leave its weights, modes and gradients as they were."""
    model = conv_net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for overrides in ({"device": "meta"}, {"eval_data": (IMAGES - 0.5, LABELS)}):
        args, kwargs = _fit(model=model, **overrides)
        with pytest.raises((TypeError, ValueError)):
            fit(*args, **kwargs)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert model.training and all(p.grad is None for p in model.parameters())
