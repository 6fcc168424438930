"""Training a StackedModels: the loss that gives each member its separate gradient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from shapebias._validation import check_int
from shapebias.models import holds_stack
from shapebias.training._losses import AdversarialLoss
from shapebias.training._protocols import generators_of
from shapebias.training._schedules import Step, resolve_loss

__all__ = ["StackedLoss", "check_stacked_eval_data"]


def _check_whole_batch(loss: Any) -> Any:
    if isinstance(loss, AdversarialLoss) and 0.0 < loss.mix < 1.0:
        raise ValueError(
            f"StackedLoss cannot wrap AdversarialLoss(mix={loss.mix}): mix makes the first "
            "round(mix * S * N) samples of the stacked batch adversarial, which are all "
            "model 0's, not a share of each model's. Use mix=1.0 (or 0.0), or Alternating "
            "for clean and adversarial batches in turn."
        )
    return loss


@dataclass(frozen=True)
class _Summed:
    """One step's loss, its gradient summed (not averaged) over the stacked members."""

    loss: Any
    num_models: int

    def generators(self) -> list[torch.Generator] | None:
        """The wrapped loss's generators (None when it does not say)."""
        return generators_of(self.loss)

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        value = _check_whole_batch(self.loss)(model, images, labels)
        if not isinstance(value, torch.Tensor):
            return value  # fit reports the wrong type with its own message
        return value * self.num_models - value.detach() * (self.num_models - 1)


@dataclass(frozen=True)
class StackedLoss:
    """A batch-mean loss for :class:`~shapebias.models.StackedModels`: each member's exact gradient.

    :func:`~shapebias.training.fit`'s losses average over the batch, so on a stack of
    ``S`` models they average over ``S * N`` images and each member's gradient comes out
    ``1 / S`` of the gradient of its own ``N`` images. This wrapper multiplies the
    gradient (not the value) by ``S``: it returns ``S * v - (S - 1) * v.detach()``,
    whose value is ``v`` (the mean over members of their mean losses, so fit's logged
    loss stays comparable) and whose gradient for member ``s`` is exactly that of the
    loss of its own batch. With an elementwise optimizer (SGD with momentum and weight
    decay, Adam) each member then trains as it would alone, to float rounding: no
    learning-rate or weight-decay correction is needed. It works for every loss that is
    a mean (or ``sum / N``) of per-sample terms over the whole batch (:class:`StandardLoss`,
    :class:`AdversarialLoss` with ``mix`` 0 or 1, :class:`FGSMRSLoss`,
    :class:`TradesLoss`) and for schedules (:class:`EpsWarmup`, :class:`Alternating`),
    which it resolves step by step. Random starts (FGSM-RS, PGD) are drawn from one
    generator for the whole stacked batch, so they are different draws, of the same
    distribution, from those of separate runs.

    Args:
        loss: a loss ``loss(model, images, labels)`` or a schedule with ``.at(step)``.
        num_models: ``S``, the stack's :attr:`~shapebias.models.StackedModels.num_models`.

    Raises:
        ValueError: ``num_models < 1``; an :class:`AdversarialLoss` with ``0 < mix < 1``
            (its adversarial share would all fall on model 0).

    Example:
        >>> import torch
        >>> from shapebias.models import StackedModels, small_cnn
        >>> from shapebias.training import StackedLoss, StandardLoss
        >>> stack = StackedModels([small_cnn(3, width=8) for _ in range(2)])
        >>> loss = StackedLoss(StandardLoss(), stack.num_models)
        >>> loss(stack, torch.rand(4, 3, 16, 16), torch.tensor([0, 1, 2, 0])).ndim
        0
    """

    loss: Any
    num_models: int

    def __post_init__(self) -> None:
        check_int(self.num_models, "num_models", low=1)
        if not hasattr(self.loss, "at"):
            _check_whole_batch(self.loss)

    def generators(self) -> list[torch.Generator] | None:
        """The wrapped loss's (or schedule's) generators, for fit's checkpoints."""
        return generators_of(self.loss)

    def at(self, step: Step) -> _Summed:
        """The summed-gradient loss for ``step`` (fit calls this for every batch)."""
        return _Summed(resolve_loss(self.loss, step), self.num_models)

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if hasattr(self.loss, "at"):
            raise TypeError(
                "StackedLoss wraps a schedule here; call .at(step) for the loss of a step "
                "(fit does this), or wrap a plain loss."
            )
        return _Summed(self.loss, self.num_models)(model, images, labels)


def check_stacked_eval_data(model: Any, eval_data: Any) -> None:
    """Refuse a tensor-pair ``eval_data`` for a stack: fit's chunks would cut across members."""
    if isinstance(eval_data, (tuple, list)) and holds_stack(model):
        raise ValueError(
            "eval_data for a StackedModels must be a StackedLoader (e.g. "
            "StackedLoader([val_loader] * S)), not a tensor pair: fit cuts tensors into "
            "eval_batch_size chunks, which would send one member's images to another."
        )
