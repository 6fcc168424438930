"""Training losses: standard, Madry PGD-AT, fast FGSM-RS (Wong et al.) and TRADES (Zhang et al.).

Every loss is a function ``(model, images, labels, ...) -> scalar`` plus a frozen
dataclass twin called as ``loss(model, images, labels)``, which is what
:func:`~shapebias.training.fit` takes. Adversarial examples are crafted under the
BatchNorm policy named by ``attack_mode`` (:func:`~shapebias.models.crafting`) and the
model's modes are restored afterwards; crafting differentiates with respect to the
input only, so no parameter gradient from it reaches the update. Each twin exposes the
generators it draws from (``generators()``, read by ``fit`` for exact resume) and a
copy with its budget scaled (``scaled(factor)``, used by ``EpsWarmup``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from shapebias._config import config_kwargs
from shapebias._validation import (
    check_callable,
    check_choice,
    check_eps,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_logits,
    check_model,
    check_real,
)
from shapebias.attacks import PGD, projected_ascent
from shapebias.models import CRAFTING_MODES, crafting
from shapebias.training._distributed import unwrap
from shapebias.training._protocols import generators_of, scale_attack

__all__ = [
    "AdversarialLoss",
    "FGSMRSLoss",
    "StandardLoss",
    "TradesLoss",
    "adversarial_loss",
    "fgsm_rs_loss",
    "standard_loss",
    "trades_adversary",
    "trades_loss",
]


def _check_batch(model: Any, images: Any, labels: Any) -> None:
    check_model(model)
    check_images(images)
    check_labels(labels, images)


def _classify(model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    logits = model(images)
    check_logits(logits, images.shape[0], labels)
    return logits


def standard_loss(model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the model on the clean batch.

    Args:
        model: callable ``images -> logits (N, K)``, in the mode the caller chose.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64.

    Returns:
        A scalar tensor.

    Shape:
        ``images``: ``(N, C, H, W)``; ``labels``: ``(N,)``; output: ``()``.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import standard_loss
        >>> loss = standard_loss(small_cnn(3), torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0]))
        >>> loss.shape
        torch.Size([])
    """
    _check_batch(model, images, labels)
    return F.cross_entropy(_classify(model, images, labels), labels)


def adversarial_count(batch_size: int, mix: float) -> int:
    """How many of ``batch_size`` samples are replaced by adversarial ones (round half up)."""
    return min(batch_size, math.floor(mix * batch_size + 0.5))


def _check_attack_settings(attack_mode: Any) -> None:
    check_choice(attack_mode, "attack_mode", CRAFTING_MODES)


def adversarial_loss(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    attack: Any,
    mix: float = 1.0,
    attack_mode: str = "eval",
) -> torch.Tensor:
    """Cross-entropy on a batch whose first ``round(mix * N)`` samples are adversarial.

    ``mix=1`` is Madry et al.'s PGD adversarial training (train only on adversarial
    examples); ``mix=0.5`` is Goodfellow et al.'s half-and-half batch. The clean and
    adversarial samples go through the model in one forward pass, so BatchNorm sees
    the mixed batch. For whole clean and adversarial batches in turn (the paper's
    schedule) use :class:`Alternating`.

    Args:
        model: callable ``images -> logits``; under DistributedDataParallel the attack
            crafts on the wrapped module and the loss uses the wrapper.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64.
        attack: any ``attack(model, images, labels) -> adversarial images``, e.g.
            :class:`~shapebias.attacks.PGD`.
        mix: share of adversarial samples in ``[0, 1]``.
        attack_mode: ``"eval"`` or ``"train"``, the BatchNorm policy while crafting
            (see :func:`~shapebias.models.crafting`); the forward pass of the loss runs
            in the model's own mode.

    Returns:
        A scalar tensor; its gradient flows only through the final forward pass.

    Shape:
        ``images``: ``(N, C, H, W)``; ``labels``: ``(N,)``; output: ``()``.

    Raises:
        TypeError: ``attack`` is not callable, bad images/labels.
        ValueError: ``mix`` outside ``[0, 1]``, unknown ``attack_mode``, a model returning
            non-finite logits.

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import adversarial_loss
        >>> model = small_cnn(3).train()
        >>> images, labels = torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
        >>> adversarial_loss(model, images, labels, attack=PGD(eps=8 / 255, steps=3)).ndim
        0

    References:
        Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
    """
    _check_batch(model, images, labels)
    check_callable(attack, "attack")
    mix = check_real(mix, "mix", low=0.0, high=1.0)
    _check_attack_settings(attack_mode)
    count = adversarial_count(images.shape[0], mix)
    batch = images
    if count > 0:
        crafter = unwrap(model)
        with crafting(crafter, attack_mode):
            adversarial = attack(crafter, images[:count], labels[:count]).detach()
        batch = torch.cat([adversarial, images[count:]]) if count < images.shape[0] else adversarial
    return F.cross_entropy(_classify(model, batch, labels), labels)


def fgsm_rs_loss(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 8 / 255,
    step_size: float | None = None,
    attack_mode: str = "eval",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Fast adversarial training (Wong et al. 2020): FGSM from a uniform random start.

    The start is uniform in the L-inf ball of radius ``eps`` (clipped to ``[0, 1]``);
    one sign step of ``1.25 * eps`` follows, then projection onto the ball and
    ``[0, 1]``. This is exactly one-step :func:`~shapebias.attacks.pgd` with
    ``random_start=True``, fed to :func:`adversarial_loss`.

    Args:
        model, images, labels: as in :func:`adversarial_loss`.
        eps: L-inf budget in pixel units.
        step_size: the FGSM step; default ``1.25 * eps`` (Wong et al.'s alpha).
        attack_mode: BatchNorm policy while crafting.
        generator: source of the random start.

    Returns:
        A scalar tensor.

    Shape:
        ``images``: ``(N, C, H, W)``; ``labels``: ``(N,)``; output: ``()``.

    Raises:
        TypeError, ValueError: as :func:`adversarial_loss`; NaN or infinite ``eps`` or
            ``step_size``; a model returning non-finite logits.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import fgsm_rs_loss
        >>> model = small_cnn(3).train()
        >>> images, labels = torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
        >>> fgsm_rs_loss(model, images, labels, eps=8 / 255).requires_grad
        True

    References:
        Wong, Rice & Kolter, "Fast is better than free: Revisiting adversarial training",
        ICLR 2020.
    """
    _check_batch(model, images, labels)
    check_eps(eps, images)
    if step_size is not None:
        check_eps(step_size, images, name="step_size")
    step = 1.25 * eps if step_size is None else step_size
    attack = PGD(eps=eps, steps=1, step_size=step, random_start=True, generator=generator)
    return adversarial_loss(model, images, labels, attack=attack, attack_mode=attack_mode)


def _kl_per_sample(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``KL(target || softmax(logits))`` per sample, shape ``(N,)``."""
    return F.kl_div(F.log_softmax(logits, dim=1), target, reduction="none").sum(1)


def trades_adversary(
    model: Any,
    images: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TRADES's inner maximisation: L-inf PGD on ``KL(p(x) || p(x'))`` from ``x + 0.001 N(0, 1)``.

    Follows the reference implementation: the start is not clipped; every step is a
    sign step of ``step_size``, then projection onto the ball and ``[0, 1]``. The steps
    are those of the attacks' loop (:func:`shapebias.attacks.projected_ascent`) with the KL
    divergence to the clean prediction as the objective. The model is called as it is
    (``trades_loss`` sets the BatchNorm policy).

    Args:
        model: callable ``images -> logits (N, K)``.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        eps: L-inf budget, a float or per-sample ``(N,)`` tensor.
        steps: ascent steps (0 returns the noisy start).
        step_size: sign-step length, a float or ``(N,)`` tensor.
        generator: source of the Gaussian start.

    Returns:
        Detached adversarial images like ``images``.

    Shape:
        ``images``: ``(N, C, H, W)``; output: the same.

    Raises:
        TypeError, ValueError: bad images, budgets or generator; a model that does not
            return finite ``(N, K)`` logits.
    """
    check_images(images)  # before the clean forward; projected_ascent checks them again
    check_eps(eps, images)
    check_eps(step_size, images, name="step_size")
    check_int(steps, "steps", low=0)
    check_generator(generator, images)
    clean = images.detach()
    with torch.no_grad():
        logits = model(clean)
        check_logits(logits, clean.shape[0])
        target = F.softmax(logits, dim=1)
    noise = torch.randn(clean.shape, generator=generator, dtype=clean.dtype, device=clean.device)
    return projected_ascent(
        model,
        clean + 0.001 * noise,
        clean,
        lambda adversarial_logits, _: _kl_per_sample(adversarial_logits, target),
        eps=eps,
        step_size=step_size,
        steps=steps,
        norm="linf",
    )


def trades_loss(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float = 8 / 255,
    beta: float = 6.0,
    steps: int = 10,
    step_size: float = 2 / 255,
    attack_mode: str = "eval",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """TRADES (Zhang et al. 2019): ``CE(f(x), y) + beta * KL(p(x) || p(x'))``.

    ``x'`` maximises the KL term (not the cross-entropy) in the L-inf ball, found by
    :func:`trades_adversary` under the ``attack_mode`` BatchNorm policy. Both terms
    are averaged over the batch (the reference code's ``batchmean``) and the gradient
    flows through both ``p(x)`` and ``p(x')``, as in the reference implementation.
    The clean and adversarial batches are two separate forward passes.

    Args:
        model, images, labels: as in :func:`adversarial_loss`.
        eps: L-inf budget (reference CIFAR-10 value 0.031, about 8/255).
        beta: weight of the robustness term (1/lambda in the paper; 6.0 on CIFAR-10).
        steps: steps of the inner maximisation (10).
        step_size: its step (0.007 in the reference code, about 2/255).
        attack_mode: BatchNorm policy while crafting.
        generator: source of the small Gaussian start.

    Returns:
        A scalar tensor.

    Shape:
        ``images``: ``(N, C, H, W)``; ``labels``: ``(N,)``; output: ``()``.

    Raises:
        TypeError: bad images/labels/generator; a model returning a tuple or dict.
        ValueError: negative, NaN or infinite ``beta``, ``eps`` or ``step_size``,
            ``eps > 1``, unknown ``attack_mode``, a model returning non-finite logits.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import trades_loss
        >>> model = small_cnn(3).train()
        >>> images, labels = torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])
        >>> trades_loss(model, images, labels, steps=2).ndim
        0

    References:
        Zhang et al., "Theoretically Principled Trade-off between Robustness and Accuracy",
        ICML 2019.
    """
    _check_batch(model, images, labels)
    beta = check_real(beta, "beta", low=0.0, finite=True)
    _check_attack_settings(attack_mode)
    crafter = unwrap(model)
    with crafting(crafter, attack_mode):
        adversarial = trades_adversary(
            crafter, images, eps=eps, steps=steps, step_size=step_size, generator=generator
        )
    clean_logits = _classify(model, images, labels)
    natural = F.cross_entropy(clean_logits, labels)
    robust = _kl_per_sample(model(adversarial), F.softmax(clean_logits, dim=1)).sum()
    return natural + beta * robust / images.shape[0]


@dataclass(frozen=True)
class StandardLoss:
    """:func:`standard_loss` as a loss object for :func:`~shapebias.training.fit`.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.training import StandardLoss
        >>> StandardLoss()(small_cnn(3), torch.rand(2, 3, 16, 16), torch.tensor([0, 2])).ndim
        0
    """

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return standard_loss(model, images, labels)

    def generators(self) -> list[torch.Generator]:
        """No generator: the standard loss draws no random numbers."""
        return []


@dataclass(frozen=True)
class AdversarialLoss:
    """:func:`adversarial_loss` with its settings stored, called as ``loss(model, images, labels)``.

    Example:
        >>> from shapebias.attacks import PGD
        >>> from shapebias.training import AdversarialLoss
        >>> loss = AdversarialLoss(PGD(eps=8 / 255, steps=7, step_size=2 / 255))
        >>> loss.mix
        1.0
    """

    attack: Any
    mix: float = 1.0
    attack_mode: str = "eval"

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return adversarial_loss(model, images, labels, **config_kwargs(self))

    def generators(self) -> list[torch.Generator] | None:
        """The attack's generators; None when the attack does not expose them."""
        return generators_of(self.attack)

    def scaled(self, factor: float) -> AdversarialLoss:
        """A copy whose attack budget (``eps``, an explicit ``step_size``) is times ``factor``."""
        return dataclasses.replace(self, attack=scale_attack(self.attack, factor))


@dataclass(frozen=True)
class FGSMRSLoss:
    """:func:`fgsm_rs_loss` with its settings stored.

    Example:
        >>> import torch
        >>> from shapebias.training import FGSMRSLoss
        >>> FGSMRSLoss(eps=8 / 255, generator=torch.Generator().manual_seed(0)).attack_mode
        'eval'
    """

    eps: float = 8 / 255
    step_size: float | None = None
    attack_mode: str = "eval"
    generator: torch.Generator | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return fgsm_rs_loss(model, images, labels, **config_kwargs(self))

    def generators(self) -> list[torch.Generator]:
        """The generator of the random start, if one was given."""
        return [] if self.generator is None else [self.generator]

    def scaled(self, factor: float) -> FGSMRSLoss:
        """A copy with ``eps`` and an explicit ``step_size`` times ``factor``."""
        step = None if self.step_size is None else self.step_size * factor
        return dataclasses.replace(self, eps=self.eps * factor, step_size=step)


@dataclass(frozen=True)
class TradesLoss:
    """:func:`trades_loss` with its settings stored.

    Example:
        >>> from shapebias.training import TradesLoss
        >>> TradesLoss(beta=6.0).steps
        10
    """

    eps: float = 8 / 255
    beta: float = 6.0
    steps: int = 10
    step_size: float = 2 / 255
    attack_mode: str = "eval"
    generator: torch.Generator | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return trades_loss(model, images, labels, **config_kwargs(self))

    def generators(self) -> list[torch.Generator]:
        """The generator of the random start, if one was given."""
        return [] if self.generator is None else [self.generator]

    def scaled(self, factor: float) -> TradesLoss:
        """A copy with ``eps`` and an explicit ``step_size`` times ``factor``."""
        step = None if self.step_size is None else self.step_size * factor
        return dataclasses.replace(self, eps=self.eps * factor, step_size=step)
