"""fit: learning, robustness, exact resume, checkpoints, modes and errors."""

from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

from shapebias.attacks import PGD
from shapebias.training import (
    AdversarialLoss,
    Alternating,
    Callback,
    EpsWarmup,
    FGSMRSLoss,
    StandardLoss,
    fit,
    load_checkpoint,
)
from shapebias.training._checkpoint import list_checkpoints
from tests.training._data import conv_net, loader, two_feature_data

EPS = 0.05


@pytest.fixture(scope="module")
def data():
    return two_feature_data(128, seed=0), two_feature_data(128, seed=1)


def _adam(model, lr=0.05):
    return torch.optim.Adam(model.parameters(), lr=lr)


def _linear(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 2))


def test_loss_decreases_and_history_is_complete(data):
    (images, labels), held_out = data
    model = conv_net()
    history = fit(
        model,
        loader(images, labels, seed=0),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=4,
        eval_data=held_out,
        eval_attack=PGD(eps=EPS, steps=3),
        progress=False,
    )
    assert [e["epoch"] for e in history] == [1, 2, 3, 4]
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"loss", "lr", "seconds", "clean_accuracy", "robust_accuracy"} <= history[0].keys()
    assert all(0 <= e["robust_accuracy"] <= e["clean_accuracy"] <= 1 for e in history)


def test_pgd_training_is_clearly_more_robust_than_standard():
    """Data with a robust cue (brightness) and a fragile one (a +-0.04 checkerboard)."""
    (images, labels), held_out = two_feature_data(256, seed=0), two_feature_data(256, seed=1)
    robust = {}
    for name, loss in [
        ("standard", StandardLoss()),
        ("pgd", AdversarialLoss(PGD(eps=EPS, steps=3))),
    ]:
        model = _linear()
        history = fit(
            model,
            loader(images, labels, seed=0),
            loss=loss,
            optimizer=_adam(model),
            epochs=10,
            eval_data=held_out,
            eval_attack=PGD(eps=EPS, steps=10),
            progress=False,
        )
        robust[name] = history[-1]["robust_accuracy"]
    assert robust["pgd"] > robust["standard"] + 0.15


class _Crash(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, state):
        if state.epoch == self.epoch:
            raise KeyboardInterrupt


def _resumable_run(images, labels, directory, *, crash_at=None, seed=0):
    """A run using every source of randomness: shuffling, dropout, random starts, schedule."""
    model = conv_net(seed=seed, dropout=0.3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss = EpsWarmup(
        Alternating(
            (
                FGSMRSLoss(eps=EPS, generator=torch.Generator().manual_seed(seed)),
                AdversarialLoss(PGD(eps=EPS, steps=2)),
            )
        ),
        epochs=2,
    )
    history = fit(
        model,
        loader(images, labels, batch_size=32),
        loss=loss,
        optimizer=optimizer,
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7),
        epochs=4,
        eval_data=(images[:32], labels[:32]),
        eval_attack=PGD(eps=EPS, steps=2),
        callbacks=[] if crash_at is None else [_Crash(crash_at)],
        checkpoint_dir=directory,
        progress=False,
    )
    return model, history


def test_resume_after_interruption_is_bit_identical(data, tmp_path):
    (images, labels), _ = data
    torch.manual_seed(123)
    straight, straight_history = _resumable_run(images, labels, tmp_path / "straight")
    torch.manual_seed(123)
    with pytest.raises(KeyboardInterrupt):
        _resumable_run(images, labels, tmp_path / "resumed", crash_at=3)
    assert [p.name for p in list_checkpoints(tmp_path / "resumed")] == [
        "checkpoint-00002.pt",
        "checkpoint-00001.pt",
    ]
    torch.manual_seed(999)  # another process: other global RNG, other initial weights
    resumed, resumed_history = _resumable_run(images, labels, tmp_path / "resumed", seed=7)
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    drop = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    assert drop(resumed_history) == drop(straight_history)


def test_resume_skips_a_corrupt_checkpoint_and_uses_the_older_one(data, tmp_path, caplog):
    (images, labels), _ = data
    model = conv_net()
    kwargs = dict(loss=StandardLoss(), checkpoint_dir=tmp_path, progress=False)
    fit(model, loader(images, labels, seed=0), optimizer=_adam(model), epochs=2, **kwargs)
    newest = tmp_path / "checkpoint-00002.pt"
    newest.write_bytes(newest.read_bytes()[:100])  # truncated by a crash of the disk, say
    with pytest.raises(ValueError, match="not a readable shapebias-checkpoint"):
        load_checkpoint(newest)
    model = conv_net(seed=3)
    with caplog.at_level(logging.WARNING, logger="shapebias.training"):
        history = fit(
            model, loader(images, labels, seed=0), optimizer=_adam(model), epochs=2, **kwargs
        )
    assert "skipping unreadable checkpoint" in caplog.text
    assert [e["epoch"] for e in history] == [1, 2]  # epoch 1 from the good file, epoch 2 redone


def test_failed_write_leaves_previous_checkpoint_loadable(data, tmp_path, monkeypatch):
    (images, labels), _ = data
    model = conv_net()
    fit(
        model,
        loader(images, labels),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=1,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    real_save = torch.save

    def half_then_fail(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        fit(
            model,
            loader(images, labels),
            loss=StandardLoss(),
            optimizer=_adam(model),
            epochs=2,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-00001.pt"]
    assert load_checkpoint(tmp_path / "checkpoint-00001.pt")["epoch"] == 1


def test_checkpoint_contents_and_pruning(data, tmp_path):
    (images, labels), _ = data
    model = conv_net()
    fit(
        model,
        loader(images, labels),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=3,
        checkpoint_dir=tmp_path,
        keep_checkpoints=1,
        progress=False,
    )
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-00003.pt"]
    record = torch.load(tmp_path / "checkpoint-00003.pt", weights_only=True)
    assert record["epoch"] == 3 and record["world_size"] == 1 and len(record["history"]) == 3
    assert all(torch.equal(record["model"][k], v) for k, v in model.state_dict().items())


def test_finished_run_resumes_to_nothing(data, tmp_path):
    (images, labels), _ = data
    model = conv_net()
    kwargs = dict(loss=StandardLoss(), epochs=1, checkpoint_dir=tmp_path, progress=False)
    first = fit(model, loader(images, labels), optimizer=_adam(model), **kwargs)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    again = fit(model, loader(images, labels), optimizer=_adam(model), **kwargs)
    assert again == first
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


def test_checkpoint_of_another_architecture_is_a_clear_error(data, tmp_path):
    (images, labels), _ = data
    model = conv_net()
    fit(
        model,
        loader(images, labels),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=1,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    other = _linear()
    with pytest.raises(
        ValueError,
        match=r"another architecture; unexpected keys: 0\.bias.*shape mismatches: 1\.bias",
    ):
        fit(
            other,
            loader(images, labels),
            loss=StandardLoss(),
            optimizer=_adam(other),
            epochs=2,
            checkpoint_dir=tmp_path,
            progress=False,
        )


def test_modes_restored_after_fit_and_on_error(data):
    (images, labels), _ = data
    model = conv_net().eval()
    model[1].train()
    modes = [m.training for m in model.modules()]
    fit(
        model,
        loader(images, labels),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=1,
        progress=False,
    )
    assert [m.training for m in model.modules()] == modes

    def broken(model, images, labels):
        assert model.training
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fit(
            model,
            loader(images, labels),
            loss=broken,
            optimizer=_adam(model),
            epochs=1,
            progress=False,
        )
    assert [m.training for m in model.modules()] == modes


def test_batch_scheduler_and_device_string(data):
    (images, labels), _ = data
    model = conv_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5**step)
    history = fit(
        model,
        loader(images, labels, batch_size=64),
        loss=StandardLoss(),
        optimizer=optimizer,
        scheduler=scheduler,
        scheduler_step="batch",
        epochs=1,
        device="cpu",
        progress=False,
    )
    assert history[0]["lr"] == pytest.approx(0.25)  # two batches, two halvings


def test_progress_bar_runs(data):
    (images, labels), _ = data
    model = conv_net()
    fit(
        model,
        loader(images, labels),
        loss=StandardLoss(),
        optimizer=_adam(model),
        epochs=1,
        progress=True,
    )


def _fit_with(data, **overrides):
    (images, labels), _ = data
    model = overrides.pop("model", conv_net())
    parameters = model if isinstance(model, nn.Module) else conv_net()  # the optimizer owns it
    kwargs = dict(loss=StandardLoss(), optimizer=_adam(parameters), epochs=1, progress=False)
    kwargs.update(overrides)
    train = kwargs.pop("train_data", loader(images, labels))
    return fit(model, train, **kwargs)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"epochs": 0}, ValueError, "epochs must be >= 1"),
        ({"loss": lambda m, x, y: m(x).sum(1)}, ValueError, "scalar tensor, got shape"),
        ({"loss": lambda m, x, y: 1.0}, TypeError, "loss must return a scalar torch.Tensor"),
        ({"loss": lambda m, x, y: m(x).sum().detach()}, ValueError, "does not require grad"),
        ({"loss": "ce"}, TypeError, "loss must be callable"),
        ({"model": lambda x: x}, TypeError, "model must be a torch.nn.Module"),
        ({"model": nn.Sequential(nn.Conv2d(1, 2, 3))}, ValueError, "floating logits of shape"),
        ({"optimizer": "sgd"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
        ({"scheduler": 3}, TypeError, "scheduler must be"),
        ({"callbacks": [object()]}, TypeError, "on_epoch_end"),
        ({"scheduler_step": "hour"}, ValueError, "scheduler_step must be one of"),
        ({"train_data": torch.rand(4, 1, 8, 8)}, TypeError, "train_data must be a DataLoader"),
        ({"train_data": [(torch.rand(4, 1, 8, 8), [0, 1, 0, 1])]}, TypeError, "tensor pairs"),
        ({"train_data": []}, ValueError, "train_data yielded no batches"),
        (
            {"eval_data": (torch.rand(0, 1, 8, 8), torch.zeros(0, dtype=torch.long))},
            ValueError,
            "must not be empty",
        ),
    ],
)
def test_fit_errors(data, overrides, error, match):
    with pytest.raises(error, match=match):
        _fit_with(data, **overrides)


def test_empty_loader_changes_nothing(data):
    model = conv_net()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="no batches"):
        _fit_with(data, model=model, train_data=[])
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in weights.items())


@pytest.mark.parametrize("progress", [False, True])
def test_fit_draws_the_loader_order_a_plain_loop_draws(data, progress):
    """The progress bar must not build a second DataLoader iterator (tqdm.auto's asyncio
    wrapper does, which draws from the loader's generator and shifts every later epoch)."""
    (images, labels), _ = data
    trained, plain = loader(images, labels, seed=3), loader(images, labels, seed=3)
    model = conv_net()
    fit(model, trained, loss=StandardLoss(), optimizer=_adam(model), epochs=2, progress=progress)
    for _ in range(2):
        for _batch in plain:
            pass
    assert torch.equal(trained.generator.get_state(), plain.generator.get_state())
