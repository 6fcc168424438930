"""Callbacks run by :func:`~shapebias.training.fit` at the end of every epoch."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from shapebias._validation import (
    check_choice,
    check_images,
    check_int,
    check_labels,
    check_real,
)
from shapebias.attacks import FGSM, PGD
from shapebias.models import eval_mode
from shapebias.training._protocols import generators_of_all

__all__ = [
    "Callback",
    "CatastrophicOverfittingMonitor",
    "CatastrophicOverfittingWarning",
    "StopAtAccuracy",
    "TrainingState",
]

logger = logging.getLogger("shapebias.training")

_ACTIONS = ("warn", "stop", "restore")


class CatastrophicOverfittingWarning(UserWarning):
    """PGD accuracy collapsed while FGSM accuracy stayed high: single-step training broke."""


@dataclass
class TrainingState:
    """What a callback sees and may change at the end of an epoch.

    Attributes:
        model: the model being trained (never the DistributedDataParallel wrapper).
        optimizer: its optimizer.
        device: where training runs.
        epoch: epochs completed so far (1 after the first).
        history: one metrics dict per completed epoch; callbacks may add keys to the last.
        stop: set to True to end training after this epoch (saved in the checkpoint).
    """

    model: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False


class Callback:
    """Base class for callbacks; override what you need.

    State returned by :meth:`state_dict` (tensors, numbers, strings, lists, dicts) is
    saved in every checkpoint and handed back to :meth:`load_state_dict` on resume. A
    callback that draws random numbers returns its generators from :meth:`generators`,
    so that their states are checkpointed too.
    """

    def on_epoch_end(self, state: TrainingState) -> None:
        """Called once per epoch, after evaluation and before the checkpoint is written."""

    def generators(self) -> list[torch.Generator] | None:
        """The generators this callback draws from (none by default)."""
        return []

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _accuracy(model: nn.Module, attack: Any, images: torch.Tensor, labels: torch.Tensor) -> float:
    adversarial = attack(model, images, labels)
    with torch.no_grad():
        return float((model(adversarial).argmax(1) == labels).double().mean())


class CatastrophicOverfittingMonitor(Callback):
    """Watch for catastrophic overfitting of single-step (FGSM) adversarial training.

    After every epoch it measures, in eval mode on a fixed batch, the accuracy under
    FGSM and under PGD and records them as ``fgsm_accuracy`` and ``pgd_accuracy`` in the
    history. Catastrophic overfitting (Wong et al. 2020) shows as PGD accuracy
    collapsing while FGSM accuracy stays high or rises: the model has learnt to mask
    the single-step gradient. The monitor flags an epoch when PGD accuracy fell more than
    ``drop`` below its best so far *and* FGSM accuracy exceeds PGD accuracy by more than
    ``drop``. It then warns (:class:`CatastrophicOverfittingWarning`) and, by ``action``,
    carries on (``"warn"``), stops training (``"stop"``), or loads the weights of the
    best-PGD epoch and stops (``"restore"``, the early stopping of Wong et al.).

    Args:
        images: fixed evaluation batch ``(N, C, H, W)`` in ``[0, 1]`` (a few hundred
            images is plenty); moved to the training device.
        labels: its ``(N,)`` int64 labels.
        eps: L-inf budget of both attacks (the training budget).
        pgd_steps: PGD steps (step size ``2.5 * eps / steps``, random start).
        drop: collapse threshold in accuracy points, in ``(0, 1]``.
        action: ``"warn"``, ``"stop"`` or ``"restore"``.
        fgsm: the single-step attack; default ``FGSM(eps)``.
        pgd: the multi-step attack; default ``PGD(eps, steps=pgd_steps)``.

    Example:
        >>> import torch
        >>> from shapebias.training import CatastrophicOverfittingMonitor
        >>> images, labels = torch.rand(64, 3, 32, 32), torch.randint(0, 10, (64,))
        >>> monitor = CatastrophicOverfittingMonitor(images, labels, eps=8 / 255, action="restore")

    References:
        Wong, Rice & Kolter, "Fast is better than free: Revisiting adversarial training",
        ICLR 2020.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        eps: float,
        pgd_steps: int = 10,
        drop: float = 0.2,
        action: str = "warn",
        fgsm: Any = None,
        pgd: Any = None,
    ) -> None:
        check_images(images)
        check_labels(labels, images)
        eps = check_real(eps, "eps", low=0.0, high=1.0)
        check_int(pgd_steps, "pgd_steps", low=1)
        self.drop = check_real(drop, "drop", low=0.0, high=1.0, low_inclusive=False)
        self.action = check_choice(action, "action", _ACTIONS)
        self.images, self.labels = images, labels
        self.fgsm = FGSM(eps=eps) if fgsm is None else fgsm
        self.pgd = PGD(eps=eps, steps=pgd_steps) if pgd is None else pgd
        self.best_accuracy = -1.0
        self.best_epoch = 0
        self.best_weights: dict[str, torch.Tensor] | None = None

    def generators(self) -> list[torch.Generator] | None:
        """The generators of both attacks (None when one of them does not expose its own)."""
        return generators_of_all([self.fgsm, self.pgd], "CatastrophicOverfittingMonitor")

    def collapsed(self, fgsm_accuracy: float, pgd_accuracy: float) -> bool:
        """Whether these accuracies show catastrophic overfitting given the best so far."""
        fell = pgd_accuracy < self.best_accuracy - self.drop
        return fell and fgsm_accuracy - pgd_accuracy > self.drop

    def on_epoch_end(self, state: TrainingState) -> None:
        images = self.images.to(state.device)
        labels = self.labels.to(state.device)
        with eval_mode(state.model):
            fgsm_accuracy = _accuracy(state.model, self.fgsm, images, labels)
            pgd_accuracy = _accuracy(state.model, self.pgd, images, labels)
        state.history[-1].update(fgsm_accuracy=fgsm_accuracy, pgd_accuracy=pgd_accuracy)
        if self.collapsed(fgsm_accuracy, pgd_accuracy):
            self._react(state, fgsm_accuracy, pgd_accuracy)
            return
        if pgd_accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = pgd_accuracy, state.epoch
            if self.action == "restore":
                self.best_weights = {
                    k: v.detach().clone() for k, v in state.model.state_dict().items()
                }

    def _react(self, state: TrainingState, fgsm_accuracy: float, pgd_accuracy: float) -> None:
        message = (
            f"catastrophic overfitting at epoch {state.epoch}: PGD accuracy {pgd_accuracy:.3f} "
            f"(best {self.best_accuracy:.3f} at epoch {self.best_epoch}), FGSM accuracy "
            f"{fgsm_accuracy:.3f}."
        )
        if self.action == "restore" and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
            state.history[-1]["restored_epoch"] = self.best_epoch
            message += f" Restored the weights of epoch {self.best_epoch} and stopped."
        elif self.action != "warn":
            message += " Stopped training."
        else:
            message += " Consider a smaller step, eps warm-up, or action='restore'."
        state.stop = self.action != "warn"
        warnings.warn(message, CatastrophicOverfittingWarning, stacklevel=2)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best_accuracy": self.best_accuracy,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_accuracy = state["best_accuracy"]
        self.best_epoch = state["best_epoch"]
        self.best_weights = state["best_weights"]


class StopAtAccuracy(Callback):
    """Stop training once a history metric reaches a target (used by the "underfit" recipe).

    Args:
        target: the value to reach, in ``[0, 1]``.
        key: the history entry to watch; ``"clean_accuracy"`` needs ``eval_data`` in ``fit``.

    Example:
        >>> from shapebias.training import StopAtAccuracy
        >>> StopAtAccuracy(0.8).target
        0.8
    """

    def __init__(self, target: float, *, key: str = "clean_accuracy") -> None:
        self.target = check_real(target, "target", low=0.0, high=1.0)
        self.key = key

    def on_epoch_end(self, state: TrainingState) -> None:
        metrics = state.history[-1]
        if self.key not in metrics:
            raise ValueError(
                f"StopAtAccuracy watches {self.key!r}, which this run does not record "
                f"(it has {sorted(metrics)}). Pass eval_data to fit."
            )
        if metrics[self.key] >= self.target:
            logger.info(
                "%s reached %.4f >= %.4f at epoch %d: stopping",
                self.key,
                metrics[self.key],
                self.target,
                state.epoch,
            )
            state.stop = True
