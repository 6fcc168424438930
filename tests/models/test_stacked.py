"""StackedModels, StackedLoader and StackedLoss against S separately run models.

The reference is the definition itself: S independent models, each fed its own block
of the seed-major batch, ``torch.cat([m(x_s) for m, x_s in zip(models, x.chunk(S))])``.
Everything runs in float64 so that "equal" means equal to ~1e-10, and the S blocks get
inputs of different brightness so that pooled BatchNorm statistics (a plausible wrong
stack) would show.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from shapebias.attacks import FGSM, PGD, fgsm, pgd, robust_accuracy
from shapebias.models import (
    NormalizedModel,
    StackedLoader,
    StackedModels,
    holds_stack,
    resnet18,
    small_cnn,
)
from shapebias.training import (
    AdversarialLoss,
    Alternating,
    FGSMRSLoss,
    StackedLoss,
    StandardLoss,
    fit,
)
from tests._models import tiny_cnn

S, N, SIZE, K = 3, 4, 8, 3
TOL = {"atol": 1e-10, "rtol": 1e-9}


def _members(make=None, count: int = S) -> list[nn.Module]:
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        model = (make or (lambda: small_cnn(K, width=4, depth=2)))()
        models.append(model.double().train())
    return models


def _batch(count: int = S, n: int = N, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(count, n, 3, SIZE, SIZE, generator=generator, dtype=torch.float64)
    brightness = torch.linspace(0.3, 1.0, count, dtype=torch.float64).view(count, 1, 1, 1, 1)
    images = (images * brightness).reshape(count * n, 3, SIZE, SIZE)
    labels = torch.randint(0, K, (count * n,), generator=generator)
    return images, labels


def _separate(models, images: torch.Tensor) -> torch.Tensor:
    return torch.cat([m(x) for m, x in zip(models, images.chunk(len(models)), strict=True)])


def _assert_same_state(a: nn.Module, b: nn.Module, **tol) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        torch.testing.assert_close(sa[name], sb[name], **(tol or TOL), msg=name)


ARCHITECTURES = {
    "small_cnn": lambda: small_cnn(K, width=4, depth=2),
    "tiny_cnn (biased convs, Tanh)": lambda: tiny_cnn(K, seed=torch.initial_seed()),
    "normalized small_cnn": lambda: NormalizedModel(
        small_cnn(K, width=4, depth=2), (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)
    ),
}


@pytest.mark.parametrize("make", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_forward_in_train_mode_equals_separate_models_and_updates_each_running_stat(make):
    models = [m.train() for m in _members(make)]
    separate = copy.deepcopy(models)
    stack = StackedModels(models)
    images, _ = _batch()
    for _ in range(2):  # the second pass uses running statistics the first one updated
        torch.testing.assert_close(stack(images), _separate(separate, images), **TOL)
    for member, alone in zip(stack.unstack(), separate, strict=True):
        _assert_same_state(member, alone)


@pytest.mark.parametrize("make", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_forward_in_eval_mode_equals_separate_models(make):
    models = _members(make)
    images, _ = _batch()
    for model, block in zip(models, images.chunk(S), strict=True):
        model(block)  # give every model its own running statistics
    stack = StackedModels(models).eval()
    separate = [m.eval() for m in copy.deepcopy(models)]
    torch.testing.assert_close(stack(images), _separate(separate, images), **TOL)


def test_resnet18_stacks_too():
    models = []
    for seed in range(2):
        torch.manual_seed(seed)
        models.append(resnet18(K).double().train())
    separate = copy.deepcopy(models)
    images, _ = _batch(count=2, n=2)
    stack = StackedModels(models)
    torch.testing.assert_close(stack(images), _separate(separate, images), **TOL)
    _assert_same_state(stack.unstack()[1], separate[1])


def test_the_stack_copies_its_members():
    models = _members()
    before = copy.deepcopy(models)
    stack = StackedModels(models)
    stack(_batch()[0])  # train-mode forward: updates the stack's running statistics only
    for model, saved in zip(models, before, strict=True):
        _assert_same_state(model, saved, atol=0.0, rtol=0.0)


def test_gradients_per_member_equal_separate_gradients():
    models = _members()
    separate = copy.deepcopy(models)
    stack = StackedModels(models)
    images, labels = _batch()
    stack_input = images.clone().requires_grad_(True)
    loss = StackedLoss(StandardLoss(), S)(stack, stack_input, labels)
    loss.backward()
    alone_input = images.clone().requires_grad_(True)
    losses = [
        F.cross_entropy(m(x), y)
        for m, x, y in zip(separate, alone_input.chunk(S), labels.chunk(S), strict=True)
    ]
    torch.stack(losses).sum().backward()
    torch.testing.assert_close(loss, torch.stack(losses).mean(), **TOL)  # value: mean of means
    for name, param in stack.body.named_parameters():
        expected = torch.cat([dict(m.named_parameters())[name].grad for m in separate])
        torch.testing.assert_close(param.grad, expected, **TOL, msg=name)
    torch.testing.assert_close(stack_input.grad, alone_input.grad, **TOL)


def test_a_plain_mean_loss_scales_member_gradients_by_one_over_s():
    """What StackedLoss corrects: without it, the mean over S * N divides by S."""
    models = _members()
    stack, wrapped = StackedModels(models), StackedModels(copy.deepcopy(models))
    images, labels = _batch()
    StandardLoss()(stack, images, labels).backward()
    StackedLoss(StandardLoss(), S)(wrapped, images, labels).backward()
    for plain, summed in zip(stack.parameters(), wrapped.parameters(), strict=True):
        torch.testing.assert_close(plain.grad * S, summed.grad, **TOL)


def _loaders(count: int = S, per_model: int = 2 * N):
    images, labels = _batch(count=1, n=per_model, seed=7)
    data = TensorDataset(images, labels)
    return [
        DataLoader(data, batch_size=N, shuffle=True, generator=torch.Generator().manual_seed(s))
        for s in range(count)
    ]


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-3)


STEP_LOSSES = {
    "standard": StandardLoss(),
    "pgd-at linf, eval-mode crafting": AdversarialLoss(
        PGD(eps=8 / 255, steps=2, step_size=4 / 255, random_start=False)
    ),
    "pgd-at l2, train-mode crafting": AdversarialLoss(
        PGD(eps=0.5, steps=2, step_size=0.25, norm="l2", random_start=False), attack_mode="train"
    ),
    "alternating clean / fgsm": Alternating((StandardLoss(), AdversarialLoss(FGSM(eps=4 / 255)))),
}


@pytest.mark.parametrize("loss", STEP_LOSSES.values(), ids=STEP_LOSSES.keys())
def test_fit_on_a_stack_trains_each_member_as_fit_trains_it_alone(loss):
    models = _members()
    separate = copy.deepcopy(models)
    stack = StackedModels(models)
    stacked_loss = StackedLoss(loss, S)
    fit(
        stack,
        StackedLoader(_loaders()),
        loss=stacked_loss,
        optimizer=_sgd(stack),
        epochs=2,
        progress=False,
    )
    for model, loader in zip(separate, _loaders(), strict=True):
        # StackedLoader([loader]) iterates the loader exactly as the stack's loader does
        # (fit with a bare DataLoader opens a second, discarded iterator per epoch through
        # tqdm.auto, which advances the shuffling generator: same data, another order).
        alone = StackedLoader([loader])
        fit(model, alone, loss=loss, optimizer=_sgd(model), epochs=2, progress=False)
    for member, alone in zip(stack.unstack(), separate, strict=True):
        _assert_same_state(member, alone)


def test_one_adam_step_on_the_stack_equals_separate_adam_steps():
    models = _members()
    separate = copy.deepcopy(models)
    stack = StackedModels(models)
    images, labels = _batch()
    optimizer = torch.optim.Adam(stack.parameters(), lr=1e-2, weight_decay=1e-3)
    StackedLoss(StandardLoss(), S)(stack, images, labels).backward()
    optimizer.step()
    for model, x, y in zip(separate, images.chunk(S), labels.chunk(S), strict=True):
        alone = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        F.cross_entropy(model(x), y).backward()
        alone.step()
    for member, alone_model in zip(stack.unstack(), separate, strict=True):
        _assert_same_state(member, alone_model)


def test_stacked_loss_is_exact_for_random_start_losses_given_the_same_starts():
    """FGSM-RS draws one start for the S * N batch; fed those starts, members train alike."""
    models = _members()
    stack = StackedModels(copy.deepcopy(models)).eval()
    images, labels = _batch()
    loss = FGSMRSLoss(eps=8 / 255, generator=torch.Generator().manual_seed(3))
    value = StackedLoss(loss, S)(stack, images, labels)
    value.backward()
    starts = torch.Generator().manual_seed(3)
    noise = (torch.rand(images.shape, generator=starts, dtype=images.dtype) * 2 - 1) * 8 / 255
    attack = PGD(eps=1.0, steps=1, step_size=10 / 255, random_start=False)  # no projection
    values = []
    for model, x, y, start in zip(
        models, images.chunk(S), labels.chunk(S), noise.chunk(S), strict=True
    ):
        model.eval()
        begun = (x + start).clamp(0, 1)
        stepped = attack(model, begun, y)
        adversarial = (x + (stepped - x).clamp(-8 / 255, 8 / 255)).clamp(0, 1)
        values.append(F.cross_entropy(model(adversarial), y))
        values[-1].backward()
    torch.testing.assert_close(value, torch.stack(values).mean(), **TOL)
    for name, param in stack.body.named_parameters():
        expected = torch.cat([dict(m.named_parameters())[name].grad for m in models])
        torch.testing.assert_close(param.grad, expected, **TOL, msg=name)


def test_unstack_round_trip_is_exact_and_independent():
    models = _members(ARCHITECTURES["normalized small_cnn"])
    for model, block in zip(models, _batch()[0].chunk(S), strict=True):
        model(block)  # each member its own running statistics
        model.eval()
        model.model[0].weight.requires_grad_(False)  # a frozen layer travels too
    stack = StackedModels(models)
    members = stack.unstack()
    for member, model in zip(members, models, strict=True):
        assert type(member) is NormalizedModel and type(member.model) is type(model.model)
        _assert_same_state(member, model, atol=0.0, rtol=0.0)
        assert [m.training for m in member.modules()] == [m.training for m in model.modules()]
        assert [p.requires_grad for p in member.parameters()] == [
            p.requires_grad for p in model.parameters()
        ]
    images, _ = _batch()
    torch.testing.assert_close(StackedModels(members)(images), stack(images), atol=0.0, rtol=0.0)
    with torch.no_grad():
        members[0].model[0].weight.add_(1.0)
    again = stack.unstack()[0]
    _assert_same_state(again, models[0], atol=0.0, rtol=0.0)


def test_stacked_loader_yields_each_loaders_batch_in_its_block():
    loaders = _loaders()
    stacked = StackedLoader(loaders)
    assert len(stacked) == len(loaders[0]) == 2
    reference = _loaders()
    for _ in range(2):  # re-iterable: one pass per epoch, each loader reshuffles
        expected = list(zip(*[list(loader) for loader in reference], strict=True))
        for (images, labels), parts in zip(stacked, expected, strict=True):
            torch.testing.assert_close(images, torch.cat([p[0] for p in parts]), atol=0, rtol=0)
            torch.testing.assert_close(labels, torch.cat([p[1] for p in parts]), atol=0, rtol=0)
    first = [next(iter(loader))[1] for loader in _loaders()]
    assert not all(torch.equal(first[0], other) for other in first[1:])  # seeds differ


ATTACKS = {
    "pgd linf, random start off": lambda m, x, y: pgd(
        m, x, y, eps=8 / 255, steps=3, step_size=2 / 255, random_start=False
    ),
    "pgd l2": lambda m, x, y: pgd(
        m, x, y, eps=0.5, steps=3, step_size=0.2, norm="l2", random_start=False
    ),
    "fgsm": lambda m, x, y: fgsm(m, x, y, eps=8 / 255),
}


@pytest.mark.parametrize("attack", ATTACKS.values(), ids=ATTACKS.keys())
def test_attacks_on_the_stack_equal_attacks_on_each_member(attack):
    models = [m.eval() for m in _members()]
    stack = StackedModels(copy.deepcopy(models))
    images, labels = _batch()
    stacked = attack(stack, images, labels)
    alone = torch.cat(
        [attack(m, x, y) for m, x, y in zip(models, images.chunk(S), labels.chunk(S), strict=True)]
    )
    torch.testing.assert_close(stacked, alone, **TOL)
    assert (stacked - images).abs().amax() > 0  # the attack moved the images


def test_attacks_that_drop_samples_refuse_a_stack():
    stack = StackedModels(_members()).eval()
    images, labels = _batch()
    assert holds_stack(stack) and holds_stack(nn.Sequential(stack)) and not holds_stack(nn.ReLU())
    with pytest.raises(ValueError, match="drops samples from the batch"):
        pgd(stack, images, labels, eps=8 / 255, early_stop=True)
    with pytest.raises(ValueError, match="drops samples from the batch"):
        robust_accuracy(stack, (images, labels), PGD(eps=8 / 255, steps=2))


def _err(make, match, error=ValueError):
    with pytest.raises(error, match=match):
        make()


def test_construction_errors():
    a, b = small_cnn(K, width=4, depth=2), small_cnn(K, width=8, depth=2)
    _err(lambda: StackedModels([a, b]), r"models\[1\] differs from models\[0\] in its modules")
    _err(lambda: StackedModels([a, copy.deepcopy(a).double()]), "in its tensors")
    _err(lambda: StackedModels([a.train(), copy.deepcopy(a).eval()]), "in its modules")
    frozen = copy.deepcopy(a)
    frozen[0].weight.requires_grad_(False)
    _err(lambda: StackedModels([a, frozen]), "requires_grad")
    _err(lambda: StackedModels([]), "at least one entry")
    _err(lambda: StackedModels(a), "models must be a list or tuple", TypeError)
    _err(lambda: StackedModels([a, "b"]), r"models\[1\] must be a torch.nn.Module", TypeError)
    dropout = nn.Sequential(nn.Flatten(), nn.Dropout(), nn.Linear(3, 2))
    _err(lambda: StackedModels([dropout]), "cannot stack a Dropout", TypeError)
    _err(lambda: StackedModels([nn.Sequential(nn.Flatten(0))]), "Flatten", TypeError)
    _err(lambda: StackedModels([nn.Linear(3, 3)]), "got a Linear", TypeError)
    linear = nn.Linear(3, 3)
    _err(lambda: StackedModels([nn.Sequential(linear, linear)]), "shared weights", TypeError)
    norm = NormalizedModel(a, (0.5,) * 3, (0.2,) * 3)
    other = NormalizedModel(copy.deepcopy(a), (0.4,) * 3, (0.2,) * 3)
    _err(lambda: StackedModels([norm, other]), "same")
    _err(lambda: StackedModels([norm, copy.deepcopy(a)]), "all NormalizedModel or none")
    stepped = copy.deepcopy(a).train()
    stepped(torch.rand(2, 3, SIZE, SIZE))
    _err(lambda: StackedModels([a.train(), stepped]), "num_batches_tracked")


def test_call_and_training_errors():
    stack = StackedModels(_members())
    images, labels = _batch()
    _err(lambda: stack(images[:-1]), "not a positive multiple of 3")
    _err(lambda: stack(images[0]), r"shape \(S \* N, C, H, W\)")
    _err(lambda: StackedLoss(AdversarialLoss(PGD(eps=8 / 255), mix=0.5), S), "mix=0.5")
    _err(lambda: StackedLoss(StandardLoss(), 0), "num_models")
    _err(
        lambda: StackedLoss(Alternating((StandardLoss(), StandardLoss())), S)(
            stack, images, labels
        ),
        "schedule",
        TypeError,
    )
    loaders = _loaders()
    _err(lambda: StackedLoader([loaders[0], _loaders(count=1, per_model=N)[0]]), "same number")
    _err(lambda: StackedLoader([]), "at least one entry")
    _err(lambda: StackedLoader(loaders[0]), "loaders must be a list or tuple", TypeError)
    _err(lambda: StackedLoader([torch.zeros(3)]), r"loaders\[0\] must be a DataLoader", TypeError)
    uneven = [[(images[:2], labels[:2])], [(images[:3], labels[:3])]]
    _err(lambda: list(StackedLoader(uneven)), "batches of sizes")
    _err(lambda: list(StackedLoader([[(images, labels)], iter([])])), "ran out at batch 0")
    _err(lambda: list(StackedLoader([[images]])), "tensor pairs", TypeError)
    _err(
        lambda: fit(
            stack,
            StackedLoader(loaders),
            loss=StackedLoss(StandardLoss(), S),
            optimizer=_sgd(stack),
            epochs=1,
            eval_data=(images, labels),
            progress=False,
        ),
        "must be a StackedLoader",
    )


def test_fit_on_a_stack_resumes_exactly_with_the_loaders_generators(tmp_path):
    def run(epochs: int, directory, models) -> StackedModels:
        stack = StackedModels(models)
        generator = torch.Generator().manual_seed(5)
        attack = PGD(eps=4 / 255, steps=1, generator=generator)  # random starts, checkpointed
        loss = StackedLoss(AdversarialLoss(attack), S)
        fit(
            stack,
            StackedLoader(_loaders()),
            loss=loss,
            optimizer=_sgd(stack),
            epochs=epochs,
            checkpoint_dir=directory,
            progress=False,
        )
        return stack

    models = _members()
    whole = run(2, tmp_path / "whole", copy.deepcopy(models))
    run(1, tmp_path / "split", copy.deepcopy(models))
    resumed = run(2, tmp_path / "split", copy.deepcopy(models))
    _assert_same_state(resumed, whole, atol=0.0, rtol=0.0)
