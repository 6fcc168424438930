"""Loss schedules: which loss, at which budget, for each training step.

A schedule is any object with an ``at(step: Step) -> loss`` method;
:func:`~shapebias.training.fit` asks it for the loss of every batch. Schedules are
pure functions of the step, so a resumed run picks up exactly where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from shapebias._validation import check_int
from shapebias.training._protocols import generators_of_all

__all__ = ["Alternating", "EpsWarmup", "Step", "resolve_loss", "scale_budget"]


@dataclass(frozen=True)
class Step:
    """Where training is: ``epoch`` and ``batch`` count from 0; ``batches`` per epoch if known.

    ``global_step`` counts every batch seen since the start of training.
    """

    epoch: int
    batch: int
    batches: int | None
    global_step: int


def resolve_loss(loss: Any, step: Step) -> Any:
    """The plain loss a (possibly nested) schedule gives for ``step``."""
    while hasattr(loss, "at"):
        loss = loss.at(step)
    return loss


def scale_budget(loss: Any, factor: float) -> Any:
    """``loss.scaled(factor)``: a copy of the loss with its budget times ``factor``.

    The library's adversarial losses scale ``eps`` and an explicit ``step_size`` (one
    derived from ``eps`` follows it), reaching into their PGD/FGSM attack.

    Raises:
        TypeError: ``loss`` has no ``scaled(factor)`` method.
    """
    method = getattr(loss, "scaled", None)
    if not callable(method):
        raise TypeError(
            f"EpsWarmup needs a loss with a budget to scale (AdversarialLoss, FGSMRSLoss, "
            f"TradesLoss, or any loss with a scaled(factor) method), got {type(loss).__name__}."
        )
    return method(factor)


@dataclass(frozen=True)
class EpsWarmup:
    """Ramp the budget of ``loss`` linearly from 0 to its full ``eps`` over ``epochs`` epochs.

    The factor after batch ``b`` of epoch ``e`` (both from 0) is
    ``min(1, (e * B + b + 1) / (epochs * B))`` with ``B`` batches per epoch (per epoch,
    ``(e + 1) / epochs``, when the loader has no length). The loss scales itself
    through its ``scaled(factor)`` method: step sizes given explicitly are scaled with
    ``eps``; those derived from ``eps`` follow it. Warm-up is the usual
    guard against early collapse of large-``eps`` and single-step training.

    Args:
        loss: a loss with a ``scaled(factor)`` method (:class:`AdversarialLoss` over a
            PGD or FGSM, :class:`FGSMRSLoss`, :class:`TradesLoss`) or a schedule of them.
        epochs: length of the ramp, ``>= 1``.

    Example:
        >>> from shapebias.attacks import PGD
        >>> from shapebias.training import AdversarialLoss, EpsWarmup, Step
        >>> warm = EpsWarmup(AdversarialLoss(PGD(eps=0.04)), epochs=2)
        >>> round(warm.at(Step(epoch=0, batch=4, batches=10, global_step=4)).attack.eps, 6)
        0.01
    """

    loss: Any
    epochs: int

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", low=1)

    def factor(self, step: Step) -> float:
        """The budget factor at ``step``, in ``(0, 1]``."""
        if step.batches:
            done = step.epoch * step.batches + step.batch + 1
            return min(1.0, done / (self.epochs * step.batches))
        return min(1.0, (step.epoch + 1) / self.epochs)

    def at(self, step: Step) -> Any:
        """The loss for ``step``, its budget scaled by :meth:`factor`."""
        return scale_budget(resolve_loss(self.loss, step), self.factor(step))

    def generators(self) -> list[torch.Generator] | None:
        """The generators of the wrapped loss (None when it does not expose them)."""
        return generators_of_all([self.loss], "EpsWarmup")


@dataclass(frozen=True)
class Alternating:
    """Cycle through losses batch by batch: ``losses[(global_step // every) % len(losses)]``.

    ``Alternating((StandardLoss(), AdversarialLoss(PGD(eps=8/255))))`` trains on a clean
    batch, then an adversarial batch, and so on: the alternating schedule of
    clean and adversarial batches, as opposed to mixing inside one batch
    (``AdversarialLoss(..., mix=0.5)``).

    Args:
        losses: two or more losses (or schedules).
        every: batches per turn, ``>= 1``.

    Example:
        >>> from shapebias.attacks import PGD
        >>> from shapebias.training import AdversarialLoss, Alternating, StandardLoss, Step
        >>> schedule = Alternating((StandardLoss(), AdversarialLoss(PGD(eps=8 / 255))))
        >>> type(schedule.at(Step(epoch=0, batch=1, batches=10, global_step=1))).__name__
        'AdversarialLoss'
    """

    losses: tuple[Any, ...]
    every: int = 1

    def __post_init__(self) -> None:
        check_int(self.every, "every", low=1)
        if not isinstance(self.losses, (tuple, list)) or len(self.losses) < 2:
            raise ValueError(f"losses must be a tuple of at least two losses, got {self.losses!r}.")
        object.__setattr__(self, "losses", tuple(self.losses))

    def at(self, step: Step) -> Any:
        """The loss whose turn it is at ``step``."""
        turn = (step.global_step // self.every) % len(self.losses)
        return resolve_loss(self.losses[turn], step)

    def generators(self) -> list[torch.Generator] | None:
        """The generators of all the losses (None when one does not expose them)."""
        return generators_of_all(self.losses, "Alternating")
