"""Losses: values against literal references, no gradient leak, modes and BN policy kept."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from shapebias.attacks import PGD
from shapebias.models import TrainModeWarning
from shapebias.training import (
    AdversarialLoss,
    FGSMRSLoss,
    StandardLoss,
    TradesLoss,
    adversarial_loss,
    fgsm_rs_loss,
    standard_loss,
    trades_loss,
)
from shapebias.training._losses import adversarial_count, trades_adversary
from tests.training._data import conv_net, two_feature_data

EPS = 0.05


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    return two_feature_data(16, seed=3)


def _state(model: torch.nn.Module) -> tuple[list[bool], list[bool], dict[str, torch.Tensor]]:
    return (
        [m.training for m in model.modules()],
        [p.requires_grad for p in model.parameters()],
        {k: v.clone() for k, v in model.state_dict().items()},
    )


def _same_state(model: torch.nn.Module, saved: tuple) -> bool:
    modes, grads, tensors = saved
    now = model.state_dict()
    return (
        modes == [m.training for m in model.modules()]
        and grads == [p.requires_grad for p in model.parameters()]
        and all(torch.equal(now[k], v) for k, v in tensors.items())
    )


def _param_grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss, list(model.parameters())))


def test_standard_loss_is_cross_entropy(batch):
    images, labels = batch
    model = conv_net()
    expected = F.cross_entropy(model(images), labels)
    assert torch.allclose(standard_loss(model, images, labels), expected)
    assert torch.allclose(StandardLoss()(model, images, labels), expected)


def test_adversarial_gradient_equals_gradient_on_adversarial_batch(batch):
    """The update's gradient is that of CE on the adversarial batch alone: nothing leaks."""
    images, labels = batch
    model = conv_net().train()
    attack = PGD(eps=EPS, steps=3, random_start=False)
    loss = adversarial_loss(model, images, labels, attack=attack)
    assert all(p.grad is None for p in model.parameters())
    loss.backward()
    got = [p.grad.clone() for p in model.parameters()]

    reference = conv_net().train()
    with torch.no_grad():
        reference.load_state_dict(conv_net().state_dict())
    reference.eval()
    adversarial = attack(reference, images, labels)
    reference.train()
    expected = _param_grads(reference, F.cross_entropy(reference(adversarial), labels))
    for g, e in zip(got, expected, strict=True):
        assert torch.allclose(g, e, atol=1e-6)


@pytest.mark.parametrize("attack_mode", ["eval", "train"])
def test_crafting_restores_modes_grads_and_bn_statistics(batch, attack_mode):
    images, labels = batch
    model = conv_net(dropout=0.2).train()
    model[1].eval()  # a frozen BatchNorm inside a training model keeps its own flag
    saved = _state(model)
    attack = PGD(eps=EPS, steps=2, random_start=False)
    with torch.no_grad():  # no training forward: only crafting could change the model
        adversarial_loss(model, images, labels, attack=attack, attack_mode=attack_mode)
    assert _same_state(model, saved)


def test_only_the_training_forward_updates_bn_statistics(batch):
    images, labels = batch
    crafted, plain = conv_net().train(), conv_net().train()
    adversarial = PGD(eps=EPS, steps=2, random_start=False)
    with torch.no_grad():
        adversarial_loss(crafted, images, labels, attack=adversarial, attack_mode="train")
        plain(adversarial(conv_net().eval(), images, labels))
    bn_crafted, bn_plain = crafted[1], plain[1]
    assert int(bn_crafted.num_batches_tracked) == 1
    assert torch.equal(bn_crafted.num_batches_tracked, bn_plain.num_batches_tracked)


def test_train_mode_crafting_silences_only_its_own_warning(batch):
    images, labels = batch
    model = conv_net().train()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adversarial_loss(model, images, labels, attack=PGD(eps=EPS, steps=1), attack_mode="train")
    with pytest.warns(TrainModeWarning):  # the filter is scoped: the attack alone still warns
        PGD(eps=EPS, steps=1)(model, images, labels)


def test_inputs_not_mutated(batch):
    images, labels = batch
    copies = images.clone(), labels.clone()
    model = conv_net().train()
    adversarial_loss(model, images, labels, attack=PGD(eps=EPS, steps=2), mix=0.5)
    trades_loss(model, images, labels, eps=EPS, steps=2)
    assert torch.equal(images, copies[0]) and torch.equal(labels, copies[1])


@given(st.integers(1, 300), st.floats(0, 1))
def test_adversarial_count_rounds_half_up_within_batch(n, mix):
    count = adversarial_count(n, mix)
    assert 0 <= count <= n
    assert abs(count - mix * n) <= 0.5 + 1e-9


def test_mix_replaces_the_first_share_of_the_batch(batch):
    images, labels = batch
    model = conv_net().eval()
    attack = PGD(eps=EPS, steps=2, random_start=False)
    got = adversarial_loss(model, images, labels, attack=attack, mix=0.25)
    count = adversarial_count(16, 0.25)
    mixed = torch.cat([attack(model, images[:count], labels[:count]), images[count:]])
    assert torch.allclose(got, F.cross_entropy(model(mixed), labels))
    clean = adversarial_loss(model, images, labels, attack=attack, mix=0.0)
    assert torch.allclose(clean, standard_loss(model, images, labels))


def test_adversarial_loss_twin(batch):
    images, labels = batch
    model = conv_net().eval()
    attack = PGD(eps=EPS, steps=2, random_start=False)
    twin = AdversarialLoss(attack, mix=0.5)(model, images, labels)
    assert torch.equal(twin, adversarial_loss(model, images, labels, attack=attack, mix=0.5))


def _wong_fgsm_rs(model, images, labels, eps, generator):
    """Literal transcription of Wong et al.'s train_fgsm.py inner step (no apex, [0, 1] data)."""
    delta = torch.zeros_like(images)
    delta.uniform_(-eps, eps, generator=generator)
    delta = torch.clamp(delta, -images, 1 - images)
    delta.requires_grad = True
    output = model(images + delta)
    loss = F.cross_entropy(output, labels)
    (grad,) = torch.autograd.grad(loss, delta)
    delta = torch.clamp(delta + 1.25 * eps * torch.sign(grad), -eps, eps)
    delta = torch.clamp(delta, -images, 1 - images).detach()
    return F.cross_entropy(model(images + delta), labels)


def test_fgsm_rs_matches_wong_reference(batch):
    images, labels = batch
    model = conv_net().eval()
    got = fgsm_rs_loss(model, images, labels, eps=EPS, generator=torch.Generator().manual_seed(1))
    twin = FGSMRSLoss(eps=EPS, generator=torch.Generator().manual_seed(1))(model, images, labels)
    expected = _wong_fgsm_rs(model, images, labels, EPS, torch.Generator().manual_seed(1))
    assert torch.allclose(got, expected, atol=1e-6)
    assert torch.equal(got, twin)


def _reference_trades_adversary(model, x_natural, eps, steps, step_size, generator):
    """The inner loop of trades.py (Zhang et al.), literally (the caller sets the mode)."""
    criterion_kl = torch.nn.KLDivLoss(reduction="sum")
    noise = torch.randn(x_natural.shape, generator=generator, dtype=x_natural.dtype)
    x_adv = x_natural.detach() + 0.001 * noise
    for _ in range(steps):
        x_adv.requires_grad_()
        with torch.enable_grad():
            loss_kl = criterion_kl(
                F.log_softmax(model(x_adv), dim=1), F.softmax(model(x_natural), dim=1)
            )
        grad = torch.autograd.grad(loss_kl, [x_adv])[0]
        x_adv = x_adv.detach() + step_size * torch.sign(grad.detach())
        x_adv = torch.min(torch.max(x_adv, x_natural - eps), x_natural + eps)
        x_adv = torch.clamp(x_adv, 0.0, 1.0)
    return x_adv.detach()


def _trades_reference(model, x_natural, y, eps, steps, step_size, beta, generator):
    """Literal transcription of trades.py (Zhang et al.) with model.eval()/train() calls."""
    criterion_kl = torch.nn.KLDivLoss(reduction="sum")
    model.eval()
    x_adv = _reference_trades_adversary(model, x_natural, eps, steps, step_size, generator)
    model.train()
    logits = model(x_natural)
    loss_natural = F.cross_entropy(logits, y)
    loss_robust = (1.0 / len(x_natural)) * criterion_kl(
        F.log_softmax(model(x_adv), dim=1), F.softmax(model(x_natural), dim=1)
    )
    return loss_natural + beta * loss_robust


def test_trades_matches_reference_implementation(batch):
    images, labels = batch
    model, reference = conv_net(batchnorm=False).train(), conv_net(batchnorm=False)
    got = trades_loss(
        model,
        images,
        labels,
        eps=EPS,
        steps=3,
        step_size=0.01,
        beta=6.0,
        generator=torch.Generator().manual_seed(2),
    )
    expected = _trades_reference(
        reference, images, labels, EPS, 3, 0.01, 6.0, torch.Generator().manual_seed(2)
    )
    assert torch.allclose(got, expected, atol=1e-6)
    twin = TradesLoss(eps=EPS, steps=3, step_size=0.01, generator=torch.Generator().manual_seed(2))
    assert torch.equal(twin(model, images, labels), got)


def test_trades_adversary_stays_in_ball_and_range(batch):
    images, _ = batch
    adversarial = trades_adversary(conv_net().eval(), images, eps=EPS, steps=3, step_size=0.02)
    assert adversarial.shape == images.shape and adversarial.dtype == images.dtype
    assert float((adversarial - images).abs().max()) <= EPS + 1e-6
    assert float(adversarial.min()) >= 0 and float(adversarial.max()) <= 1


def test_trades_gradient_has_no_crafting_leak(batch):
    images, labels = batch
    model = conv_net(batchnorm=False).train()
    loss = trades_loss(
        model, images, labels, eps=EPS, steps=2, generator=torch.Generator().manual_seed(0)
    )
    assert all(p.grad is None for p in model.parameters())
    assert loss.requires_grad


def test_trades_beta_zero_is_clean_cross_entropy(batch):
    images, labels = batch
    model = conv_net().eval()
    got = trades_loss(model, images, labels, beta=0.0, steps=1)
    assert torch.allclose(got, standard_loss(model, images, labels))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"attack": PGD(eps=EPS), "mix": 1.5}, ValueError, "mix must be"),
        ({"attack": PGD(eps=EPS), "attack_mode": "both"}, ValueError, "attack_mode must be one of"),
        ({"attack": "pgd"}, TypeError, "attack must be callable"),
    ],
)
def test_adversarial_loss_errors(batch, kwargs, error, match):
    with pytest.raises(error, match=match):
        adversarial_loss(conv_net(), *batch, **kwargs)


def test_loss_errors(batch):
    images, labels = batch
    with pytest.raises(ValueError, match="in \\[0, 1\\] pixel units"):
        fgsm_rs_loss(conv_net(), images, labels, eps=8)
    with pytest.raises(ValueError, match="beta must be"):
        trades_loss(conv_net(), images, labels, beta=-1.0)
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        standard_loss(conv_net(), images * 3, labels)
    with pytest.raises(ValueError, match="floating logits"):
        standard_loss(lambda x: x.sum(), images, labels)


def _kl(model, x_adv, x_natural):
    with torch.no_grad():
        target = F.softmax(model(x_natural), dim=1)
        return F.kl_div(F.log_softmax(model(x_adv), dim=1), target, reduction="sum")


def test_trades_adversary_is_the_reference_and_maximises_the_kl(batch):
    """Large budget so the robust term is far from negligible and a wrong adversary shows."""
    images, _ = batch
    model = conv_net(seed=4).eval()
    eps, steps, step_size = 0.3, 5, 0.1
    got = trades_adversary(
        model,
        images,
        eps=eps,
        steps=steps,
        step_size=step_size,
        generator=torch.Generator().manual_seed(5),
    )
    expected = _reference_trades_adversary(
        model, images, eps, steps, step_size, torch.Generator().manual_seed(5)
    )
    assert float((got - expected).abs().max()) < 1e-6  # the projection rounds differently
    uniform = (images + torch.empty_like(images).uniform_(-eps, eps)).clamp(0, 1)
    assert float(_kl(model, got, images)) > 10 * float(_kl(model, uniform, images))
    assert float((got - images).abs().max()) == pytest.approx(eps, abs=1e-6)  # it used the ball


@pytest.mark.parametrize("attack_mode", ["eval", "train"])
def test_trades_parameter_gradients_match_the_reference(batch, attack_mode):
    """Gradients of every parameter, BatchNorm model, against trades.py's loss (eval crafting).

    In float64. A convolution bias in front of BatchNorm (train mode) has a zero gradient in
    exact arithmetic: what either side computes is the rounding noise of a sum of ~10^3
    cancelling terms of size ~1, about 1e-7 in float32, and it differs with the kernels'
    summation order (AVX2 against the default kernels). In float64 the same noise is
    ~1e-16 (measured: at most 4e-16 under either kernel set), so ``atol=1e-10`` holds with a
    margin of 10^5, while a wrong loss (other BatchNorm mode, other adversary, other
    weighting) moves the gradients by more than 1e-4. ``test_kernels.py`` runs this test
    under the default kernels as well as the machine's own.
    """
    images, labels = batch
    images = images.double()
    eps, steps, step_size, beta = 0.3, 4, 0.1, 6.0
    model, reference = conv_net(seed=4).double().train(), conv_net(seed=4).double().train()
    loss = trades_loss(
        model,
        images,
        labels,
        eps=eps,
        steps=steps,
        step_size=step_size,
        beta=beta,
        attack_mode=attack_mode,
        generator=torch.Generator().manual_seed(6),
    )
    loss.backward()
    if attack_mode == "eval":
        reference.eval()
    x_adv = _reference_trades_adversary(
        reference, images, eps, steps, step_size, torch.Generator().manual_seed(6)
    )
    for module, saved in zip(reference.modules(), model.modules(), strict=True):
        if isinstance(module, torch.nn.BatchNorm2d):  # crafting must not move the statistics
            module.running_mean.copy_(saved.running_mean)
            module.running_var.copy_(saved.running_var)
    reference.train()
    logits = reference(images)
    natural = F.cross_entropy(logits, labels)
    robust = F.kl_div(
        F.log_softmax(reference(x_adv), dim=1),
        F.softmax(reference(images), dim=1),
        reduction="sum",
    ) / len(images)
    (natural + beta * robust).backward()
    assert float(beta * robust.detach()) > 0.05  # the robust term is a large share of the loss
    assert torch.allclose(loss, natural + beta * robust, atol=1e-6)
    for (name, ours), theirs in zip(model.named_parameters(), reference.parameters(), strict=True):
        assert torch.allclose(ours.grad, theirs.grad, atol=1e-6, rtol=1e-5), name


def test_trades_gradient_of_the_robust_term_flows_through_both_predictions(batch):
    """d/dtheta of KL(p(x) || p(x')) depends on p(x) too: detaching it changes the gradient."""
    images, labels = batch
    model = conv_net(seed=4, batchnorm=False).train()
    kwargs = dict(eps=0.3, steps=3, step_size=0.1, beta=6.0)
    full = trades_loss(model, images, labels, generator=torch.Generator().manual_seed(7), **kwargs)
    natural = trades_loss(
        model, images, labels, generator=torch.Generator().manual_seed(7), **{**kwargs, "beta": 0.0}
    )
    grads = torch.autograd.grad(full - natural, list(model.parameters()))
    x_adv = trades_adversary(
        model.eval(),
        images,
        eps=0.3,
        steps=3,
        step_size=0.1,
        generator=torch.Generator().manual_seed(7),
    )
    model.train()
    detached = 6.0 * F.kl_div(
        F.log_softmax(model(x_adv), dim=1),
        F.softmax(model(images), dim=1).detach(),
        reduction="batchmean",
    )
    wrong = torch.autograd.grad(detached, list(model.parameters()))
    assert any(not torch.allclose(g, w, atol=1e-5) for g, w in zip(grads, wrong, strict=True))


@given(
    row=st.integers(0, 3),
    column=st.integers(0, 1),
    value=st.sampled_from([float("nan"), float("inf"), -float("inf")]),
)
def test_every_loss_refuses_a_single_non_finite_logit(row, column, value):
    images, labels = two_feature_data(4, seed=0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))

    def model(x):
        logits = linear(x)
        if x.shape[0] == 4:  # every forward pass of the 4-image batch, clean or adversarial
            mask = torch.zeros_like(logits, dtype=torch.bool)
            mask[row, column] = True
            logits = logits.masked_fill(mask, value)
        return logits

    for loss in (
        StandardLoss(),
        FGSMRSLoss(eps=EPS),
        TradesLoss(eps=EPS, steps=1),
        AdversarialLoss(lambda m, x, y: x, mix=1.0),  # the final forward is what is checked
    ):
        with pytest.raises(ValueError, match="logits containing NaN or inf"):
            loss(model, images, labels)


@pytest.mark.parametrize("wrap", [lambda out: (out,), lambda out: {"logits": out}])
def test_trades_with_a_tuple_or_dict_model_is_a_clear_error(batch, wrap):
    images, labels = batch
    net = conv_net().eval()
    with pytest.raises(TypeError, match=r"model must return a logits tensor.*wrap it"):
        trades_loss(lambda x: wrap(net(x)), images, labels, steps=1)
