"""fit's guards: everything validated before the first step, non-finite losses, no leftovers,
and the explicit ``generators()`` protocol for exact resume."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from shapebias.attacks import PGD
from shapebias.training import (
    AdversarialLoss,
    FGSMRSLoss,
    StandardLoss,
    fit,
    standard_loss,
)
from tests.training._data import conv_net, fit_arguments, loader, two_feature_data


@pytest.fixture(scope="module")
def data():
    return two_feature_data(64, seed=0)


def _weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _unchanged(model, weights):
    return all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def _fit(model, data, **overrides):
    args, kwargs = fit_arguments(model, *data, **overrides)
    return fit(*args, **kwargs)


class _NaNAfter(nn.Module):
    """A linear model whose logits become NaN from the ``bad``-th forward pass in training mode."""

    def __init__(self, bad: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
        self.bad, self.calls = bad, 0

    def forward(self, images):
        logits = self.linear(images)
        if self.training:
            self.calls += 1
            if self.calls >= self.bad:
                return logits * float("nan")
        return logits


def test_non_finite_loss_stops_naming_epoch_and_batch_before_the_update(data, tmp_path):
    model = _NaNAfter(bad=3)  # the third training batch of the first epoch
    images, labels = data
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"became nan at epoch 1, batch 3 .*before this batch"):
        fit(
            model,
            loader(images, labels, batch_size=16, shuffle=False),
            loss=lambda m, x, y: nn.functional.cross_entropy(m(x), y),
            optimizer=optimizer,
            epochs=2,
            checkpoint_dir=tmp_path,
            generators=(),
            progress=False,
        )
    # the weights are those after two good batches: replay them on a fresh copy
    reference = _NaNAfter(bad=10**9)
    replay = torch.optim.SGD(reference.parameters(), lr=0.1)
    for batch in range(2):
        x, y = images[16 * batch : 16 * batch + 16], labels[16 * batch : 16 * batch + 16]
        replay.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        replay.step()
    assert _unchanged(model, reference.state_dict())
    assert all(p.grad is None for p in model.parameters())  # no NaN gradient left behind
    assert list(tmp_path.iterdir()) == []  # no checkpoint of a broken epoch


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_every_library_loss_refuses_non_finite_logits(data, value):
    images, labels = data
    broken = nn.Sequential(nn.Flatten(), nn.Linear(64, 2))
    with torch.no_grad():
        broken[1].bias[1] = value
    for loss in (
        StandardLoss(),
        AdversarialLoss(PGD(eps=0.05, steps=1, random_start=False)),
        FGSMRSLoss(eps=0.05),
    ):
        with pytest.raises(ValueError, match="logits containing NaN or inf"):
            loss(broken, images[:4], labels[:4])
    with pytest.raises(ValueError, match="logits containing NaN or inf"):
        _fit(broken, data, optimizer=torch.optim.SGD(broken.parameters(), lr=0.1))


def test_optimizer_holding_none_of_the_models_parameters(data):
    model = conv_net()
    weights = _weights(model)
    other = torch.optim.SGD(conv_net(seed=1).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="none of them belongs to the model"):
        _fit(model, data, optimizer=other)
    assert _unchanged(model, weights)
    head_only = torch.optim.SGD(model[-1].parameters(), lr=0.1)  # fine-tuning a part is fine
    _fit(model, data, optimizer=head_only)
    assert torch.equal(model[0].weight, weights["0.weight"])
    assert not torch.equal(model[-1].weight, weights["5.weight"])


def test_fewer_epochs_than_the_checkpoint_holds_is_refused(data, tmp_path):
    model = conv_net()
    _fit(model, data, epochs=3, checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match=r"epochs=2 but the newest checkpoint .* done 3 epochs"):
        _fit(conv_net(), data, epochs=2, checkpoint_dir=tmp_path)
    assert len(_fit(conv_net(), data, epochs=3, checkpoint_dir=tmp_path)) == 3  # equal: a no-op


def test_bad_eval_data_and_checkpoint_dir_are_refused_before_any_step(data, tmp_path):
    images, labels = data
    a_file = tmp_path / "file.pt"
    a_file.write_bytes(b"")
    model = conv_net()
    weights = _weights(model)
    bad = [
        ({"eval_data": (images * 255, labels)}, ValueError, "eval_data images must lie in"),
        ({"eval_data": (images, labels.float())}, TypeError, "eval_data labels must have dtype"),
        ({"eval_data": (images, labels + 5)}, ValueError, "eval_data labels must be class"),
        ({"eval_data": (images, labels, labels)}, TypeError, "pair \\(images, labels\\)"),
        ({"eval_data": 3}, TypeError, "eval_data must be a pair"),
        ({"checkpoint_dir": a_file}, ValueError, "is not a folder"),
        ({"checkpoint_dir": 3}, TypeError, "checkpoint_dir must be a folder path"),
        ({"eval_attack": "pgd"}, TypeError, "eval_attack must be callable"),
        ({"device": "meta"}, ValueError, "meta device"),
        ({"device": "gpu0"}, ValueError, "device must be a torch.device or a name"),
        ({"resume": "no"}, TypeError, "resume must be True or False"),
        ({"generators": torch.Generator()}, TypeError, "use \\[generator\\]"),
        ({"generators": [3]}, TypeError, "must return torch.Generator objects, got int"),
    ]
    for overrides, error, match in bad:
        with pytest.raises(error, match=match):
            _fit(model, data, **overrides)
        assert _unchanged(model, weights), overrides
        assert all(p.grad is None for p in model.parameters())


def test_a_list_of_eval_batches_is_still_an_iterable_of_batches(data):
    images, labels = data
    batches = [(images[:32], labels[:32]), (images[32:], labels[32:])]
    (entry,) = _fit(conv_net(), data, eval_data=batches)
    (again,) = _fit(conv_net(), data, eval_data=(images, labels))
    assert entry["clean_accuracy"] == again["clean_accuracy"]


def test_uint8_images_and_a_meta_model_get_the_fix(data):
    images, labels = data
    uint8 = (images * 255).to(torch.uint8)
    with pytest.raises(TypeError, match=r"train_data images must be a floating.*float\(\) / 255"):
        _fit(conv_net(), data, train_data=[(uint8, labels)])
    with torch.device("meta"):
        meta = nn.Linear(64, 2)
    with pytest.raises(ValueError, match="model's parameters are on the meta device"):
        _fit(meta, data)


def test_fit_leaves_no_grad_on_parameters(data):
    model = conv_net()
    for parameter in model.parameters():
        parameter.grad = torch.ones_like(parameter)  # stale gradients from the caller's code
    _fit(model, data)
    assert all(p.grad is None for p in model.parameters())


class _HiddenRandomness:
    """A loss with its own generator and no generators() method: fit cannot see it."""

    def __init__(self) -> None:
        self.generator = torch.Generator().manual_seed(0)

    def __call__(self, model, images, labels):
        noise = torch.rand(images.shape, generator=self.generator) * 0.01
        return standard_loss(model, (images + noise).clamp(0, 1), labels)


class _ExposedRandomness(_HiddenRandomness):
    def generators(self):
        return [self.generator]


def test_plain_loss_with_checkpoints_warns_and_no_attribute_is_scanned(data, tmp_path):
    with pytest.warns(UserWarning, match="cannot see the random state of the loss"):
        _fit(conv_net(), data, loss=_HiddenRandomness(), checkpoint_dir=tmp_path / "a")
    own_attack = AdversarialLoss(lambda model, images, labels: images)
    with pytest.warns(UserWarning, match="random state of the loss .*an attack or loss inside"):
        _fit(conv_net(), data, loss=own_attack, checkpoint_dir=tmp_path / "e")
    with pytest.warns(UserWarning, match=r"random state of callbacks\[0\]"):
        _fit(conv_net(), data, callbacks=[_Plain()], checkpoint_dir=tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _fit(conv_net(), data, loss=_HiddenRandomness())  # no checkpoints: nothing to promise
        _fit(
            conv_net(), data, loss=_HiddenRandomness(), checkpoint_dir=tmp_path / "c", generators=()
        )  # the caller states there is nothing more
        _fit(conv_net(), data, loss=_ExposedRandomness(), checkpoint_dir=tmp_path / "d")


class _Plain:
    def on_epoch_end(self, state):
        pass


def _resumable(data, directory, loss_type, epochs, seed):
    model = conv_net(seed=seed)
    loss = loss_type()
    loss.generator.manual_seed(seed)
    _fit(model, data, loss=loss, epochs=epochs, checkpoint_dir=directory, generators=())
    return model


def test_generators_method_makes_resume_exact_and_its_absence_does_not(data, tmp_path):
    """The protocol is what carries the state: the same object without it resumes differently."""
    straight = _resumable(data, tmp_path / "straight", _ExposedRandomness, 2, seed=0)
    _resumable(data, tmp_path / "exposed", _ExposedRandomness, 1, seed=0)
    resumed = _resumable(data, tmp_path / "exposed", _ExposedRandomness, 2, seed=9)
    assert _unchanged(resumed, straight.state_dict())
    _resumable(data, tmp_path / "hidden", _HiddenRandomness, 1, seed=0)
    hidden = _resumable(data, tmp_path / "hidden", _HiddenRandomness, 2, seed=9)
    assert not _unchanged(hidden, straight.state_dict())  # the generator was not restored
