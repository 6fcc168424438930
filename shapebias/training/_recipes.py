"""The paper's training recipes as presets built from the losses and ``fit``."""

from __future__ import annotations

import warnings
from collections.abc import Sized
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from shapebias._validation import check_bool, check_choice, check_int, check_real
from shapebias.attacks import FGSM, PGD
from shapebias.training._callbacks import StopAtAccuracy
from shapebias.training._fit import fit
from shapebias.training._losses import AdversarialLoss, FGSMRSLoss, StandardLoss

__all__ = ["Recipe"]

OPTIMIZERS = ("sgd", "adam")
"""The optimiser settings a :class:`Recipe` can use (see :class:`Recipe`)."""

SGD_MIN_EPOCHS = 30
"""Fewer epochs than this with the paper's SGD schedule warn. Measured on
``ShapeTextureDataset`` (4 classes, 32 px, 4000 images, ``small_cnn`` width 32, batch
64): ``Recipe.standard`` ends at 25% (chance) after 3 epochs and 27% after 12, while
``optimizer="adam"`` learns; 30 (a third of the 100 epochs the schedule is made for) is a
judgement, not a measured threshold."""

# Settings of each optimiser: learning rate, momentum, weight decay, LR milestones.
_OPTIMIZER_DEFAULTS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4, "milestones": (0.5, 0.75)},
    "adam": {"lr": 5e-3, "momentum": 0.0, "weight_decay": 0.0, "milestones": ()},
}


def _madry_step(eps: float, steps: int) -> float:
    return 2.5 * eps / steps


def _optimizer_fields(optimizer: str) -> dict[str, Any]:
    check_choice(optimizer, "optimizer", OPTIMIZERS)
    return {"optimizer_kind": optimizer, **_OPTIMIZER_DEFAULTS[optimizer]}


@dataclass(frozen=True)
class Recipe:
    """A training recipe: loss, epochs, SGD settings, LR milestones and an evaluation attack.

    Build one with a preset and train with :meth:`fit`::

        recipe = Recipe.pgd_linf(8 / 255)
        history = recipe.fit(model, train_loader, eval_data=(x_val, y_val))
        save_model("at.pt", model, meta=recipe.meta(data="CIFAR-10"))

    Presets (``Recipe.standard()``, ``.underfit()``, ``.pgd_linf(eps)``,
    ``.pgd_l2(eps)``, ``.fgsm(eps)``) name the models of Zhang & Zhu's tables. The
    paper does not publish every optimiser setting, so all presets share the common
    CIFAR-10 schedule by default (``optimizer="sgd"``): SGD, learning rate 0.1, momentum
    0.9, weight decay 5e-4, divided by 10 at 50% and 75% of the epochs. That schedule is
    made for ~100 epochs; in a budget of a few epochs it may not learn at all
    (``Recipe.standard(epochs=3)`` stays near chance on :class:`ShapeTextureDataset`),
    so :meth:`fit` warns below 30 epochs. ``optimizer="adam"`` is the
    short-budget setting: Adam at learning rate 5e-3, no weight decay, and a one-cycle
    schedule (:class:`~torch.optim.lr_scheduler.OneCycleLR` with the recipe's ``lr`` as
    its peak) stepped every batch. Every field can be overridden with
    :func:`dataclasses.replace` or the preset's arguments.

    Attributes:
        name: the recipe's name, recorded by :meth:`meta`.
        loss: the loss (or schedule) for :func:`fit`.
        epochs: training epochs.
        lr, momentum, weight_decay: optimiser settings (for ``"adam"``: the one-cycle
            peak LR; momentum is unused).
        milestones: fractions of ``epochs`` at which the LR is divided by 10 (SGD).
        eps: the training budget (None for standard training).
        norm: ``"linf"`` or ``"l2"`` (None for standard training).
        callbacks: callbacks the recipe always uses (``underfit`` stops early).
        description: one line on what the recipe is.
        optimizer_kind: ``"sgd"`` (the paper's schedule) or ``"adam"`` (Adam with a
            one-cycle schedule per batch, for runs of a few epochs).
    """

    name: str
    loss: Any
    epochs: int
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    milestones: tuple[float, ...] = (0.5, 0.75)
    eps: float | None = None
    norm: str | None = None
    callbacks: tuple[Any, ...] = field(default=(), compare=False)
    description: str = ""
    optimizer_kind: str = "sgd"

    @classmethod
    def standard(cls, *, epochs: int = 100, optimizer: str = "sgd") -> Recipe:
        """Standard training: cross-entropy on clean images.

        ``optimizer``: ``"sgd"`` (the paper's schedule) or ``"adam"`` (a few epochs);
        every preset takes it.

        Example:
            >>> from shapebias.training import Recipe
            >>> Recipe.standard().name, Recipe.standard(optimizer="adam").lr
            ('standard', 0.005)
        """
        return cls(
            "standard",
            StandardLoss(),
            check_int(epochs, "epochs", low=1),
            description="standard training on clean images",
            **_optimizer_fields(optimizer),
        )

    @classmethod
    def underfit(
        cls, *, epochs: int = 10, match_accuracy: float | None = None, optimizer: str = "sgd"
    ) -> Recipe:
        """An *underfit* standard CNN: standard training stopped early.

        The paper compares AT-CNNs with an "underfitting CNN" but does not define it
        precisely; its purpose is a standard model whose *clean accuracy is as low as an
        adversarially trained model's*, to tell apart effects of robustness from effects
        of lower accuracy. This preset makes the choice explicit: standard training for
        few epochs (``epochs``, default 10 instead of 100, the LR schedule compressed to
        match) and, with ``match_accuracy`` (the AT model's clean accuracy), stopping at
        the first epoch whose clean accuracy on ``eval_data`` reaches it
        (:class:`StopAtAccuracy`). Report which of the two you used.

        Example:
            >>> from shapebias.training import Recipe
            >>> recipe = Recipe.underfit(match_accuracy=0.8)
            >>> recipe.epochs, type(recipe.callbacks[0]).__name__
            (10, 'StopAtAccuracy')
        """
        callbacks = () if match_accuracy is None else (StopAtAccuracy(match_accuracy),)
        what = "standard training stopped early"
        if match_accuracy is not None:
            what += f" at clean accuracy {check_real(match_accuracy, 'match_accuracy'):.4f}"
        return cls(
            "underfit",
            StandardLoss(),
            check_int(epochs, "epochs", low=1),
            callbacks=callbacks,
            description=what,
            **_optimizer_fields(optimizer),
        )

    @classmethod
    def pgd_linf(
        cls, eps: float, *, steps: int = 7, epochs: int = 100, optimizer: str = "sgd"
    ) -> Recipe:
        """Madry PGD adversarial training in the L-inf ball, ``steps`` steps of ``2.5 eps / steps``.

        For ``eps = 8/255`` and 7 steps that is Madry et al.'s CIFAR-10 setting (step 2/255
        rounded; here 2.86/255).

        Example:
            >>> from shapebias.training import Recipe
            >>> Recipe.pgd_linf(8 / 255).loss.attack.steps
            7
        """
        return cls._pgd(eps, "linf", steps, epochs, optimizer)

    @classmethod
    def pgd_l2(
        cls, eps: float, *, steps: int = 7, epochs: int = 100, optimizer: str = "sgd"
    ) -> Recipe:
        """Madry PGD adversarial training in the L2 ball (``steps`` steps of ``2.5 eps / steps``).

        Example:
            >>> from shapebias.training import Recipe
            >>> Recipe.pgd_l2(0.5).norm
            'l2'
        """
        return cls._pgd(eps, "l2", steps, epochs, optimizer)

    @classmethod
    def _pgd(cls, eps: float, norm: str, steps: int, epochs: int, optimizer: str) -> Recipe:
        eps = check_real(eps, "eps", low=0.0, low_inclusive=False)
        check_int(steps, "steps", low=1)
        attack = PGD(eps=eps, steps=steps, step_size=_madry_step(eps, steps), norm=norm)
        return cls(
            f"pgd_{norm}",
            AdversarialLoss(attack),
            check_int(epochs, "epochs", low=1),
            eps=eps,
            norm=norm,
            description=f"PGD-{steps} adversarial training, {norm} eps={eps:.6g}",
            **_optimizer_fields(optimizer),
        )

    @classmethod
    def fgsm(
        cls,
        eps: float,
        *,
        random_start: bool = False,
        epochs: int = 100,
        optimizer: str = "sgd",
    ) -> Recipe:
        """FGSM adversarial training in the L-inf ball.

        ``random_start=False`` (default) is the paper's FGSM model: plain FGSM
        (Goodfellow et al.) examples, which are prone to catastrophic overfitting at
        large ``eps``: use a :class:`CatastrophicOverfittingMonitor`.
        ``random_start=True`` is Wong et al.'s fast FGSM-RS (:func:`fgsm_rs_loss`).

        Example:
            >>> from shapebias.training import Recipe
            >>> type(Recipe.fgsm(8 / 255, random_start=True).loss).__name__
            'FGSMRSLoss'
        """
        eps = check_real(eps, "eps", low=0.0, high=1.0, low_inclusive=False)
        check_bool(random_start, "random_start")
        loss = FGSMRSLoss(eps=eps) if random_start else AdversarialLoss(FGSM(eps=eps))
        kind = "FGSM-RS (Wong et al.)" if random_start else "FGSM"
        return cls(
            "fgsm_rs" if random_start else "fgsm",
            loss,
            check_int(epochs, "epochs", low=1),
            eps=eps,
            norm="linf",
            description=f"{kind} adversarial training, linf eps={eps:.6g}",
            **_optimizer_fields(optimizer),
        )

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """SGD (or, with ``optimizer_kind="adam"``, Adam) over ``model``'s parameters."""
        if self.optimizer_kind == "adam":
            return torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        return torch.optim.SGD(
            model.parameters(), lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay
        )

    @property
    def scheduler_step(self) -> str:
        """When :meth:`scheduler` steps: ``"epoch"`` (SGD milestones) or ``"batch"`` (Adam)."""
        return "batch" if self.optimizer_kind == "adam" else "epoch"

    def scheduler(
        self, optimizer: torch.optim.Optimizer, steps_per_epoch: int | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The recipe's LR schedule for ``optimizer``.

        SGD: the LR divided by 10 at each milestone (a fraction of ``epochs``), stepped
        per epoch. Adam: one cycle over ``epochs * steps_per_epoch`` batches peaking at
        ``lr``, stepped per batch (``steps_per_epoch`` is then required).
        """
        if self.optimizer_kind == "adam":
            steps = check_int(steps_per_epoch, "steps_per_epoch", low=1)
            return torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=self.lr, total_steps=self.epochs * steps
            )
        milestones = sorted({max(1, round(f * self.epochs)) for f in self.milestones})
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)

    def eval_attack(self, steps: int = 10) -> PGD | None:
        """A PGD attack in the training threat model for robust accuracy (None if standard)."""
        if self.eps is None:
            return None
        return PGD(eps=self.eps, steps=steps, norm=self.norm or "linf")

    def meta(self, **extra: Any) -> dict[str, Any]:
        """Metadata for :func:`save_model`: recipe, eps, norm, epochs, settings, plus ``extra``.

        Example:
            >>> from shapebias.training import Recipe
            >>> Recipe.pgd_linf(8 / 255).meta(data="CIFAR-10")["recipe"]
            'pgd_linf'
        """
        return {
            "recipe": self.name,
            "description": self.description,
            "eps": self.eps,
            "norm": self.norm,
            "epochs": self.epochs,
            "lr": self.lr,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "milestones": list(self.milestones),
            "optimizer": self.optimizer_kind,
            **extra,
        }

    def fit(self, model: nn.Module, train_data: Any, **kwargs: Any) -> list[dict[str, Any]]:
        """Train ``model`` with this recipe via :func:`fit`.

        Builds the optimizer and scheduler (a one-cycle schedule needs ``len(train_data)``
        batches per epoch), uses :meth:`eval_attack` when ``eval_data`` is given, and adds
        the recipe's callbacks to ``callbacks``. Other keyword arguments go to
        :func:`fit` unchanged.

        Warns:
            UserWarning: the SGD schedule with fewer than 30 epochs
                (it may stay near chance; use ``optimizer="adam"``).
        """
        if self.optimizer_kind == "sgd" and self.epochs < SGD_MIN_EPOCHS:
            warnings.warn(
                f"Recipe {self.name!r} uses the paper's SGD schedule (made for ~100 epochs) "
                f"for only {self.epochs} epochs; below {SGD_MIN_EPOCHS} it may stay near "
                f"chance. For a short budget build it with optimizer='adam' (Adam, one-cycle "
                "schedule).",
                UserWarning,
                stacklevel=2,
            )
        optimizer = kwargs.pop("optimizer", None) or self.optimizer(model)
        if "scheduler" not in kwargs:
            steps = None
            if self.scheduler_step == "batch":
                if not isinstance(train_data, Sized):
                    raise TypeError(
                        "optimizer 'adam' steps a one-cycle schedule per batch and needs "
                        f"len(train_data) batches per epoch; {type(train_data).__name__} has "
                        "no len(). Pass scheduler= (and scheduler_step='batch') yourself."
                    )
                steps = len(train_data)
            kwargs["scheduler"] = self.scheduler(optimizer, steps)
            kwargs.setdefault("scheduler_step", self.scheduler_step)
        if kwargs.get("eval_data") is not None:
            kwargs.setdefault("eval_attack", self.eval_attack())
        callbacks = (*kwargs.pop("callbacks", ()), *self.callbacks)
        return fit(
            model,
            train_data,
            loss=self.loss,
            optimizer=optimizer,
            epochs=self.epochs,
            callbacks=callbacks,
            **kwargs,
        )
