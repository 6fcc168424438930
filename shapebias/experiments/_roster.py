"""The paper's model roster, written once: who is trained, how, and from what."""

from __future__ import annotations

import dataclasses
from typing import Literal

from shapebias.experiments._settings import Settings
from shapebias.training import Recipe

__all__ = ["BASELINE", "ModelSpec", "roster"]

BASELINE = "standard"


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One configuration of the roster, trained once per seed.

    Attributes:
        name: the model's name (``pgd_linf_4``).
        role: ``"baseline"`` (the standard model every claim compares with),
            ``"adversarial"`` (a claim's subject) or ``"control"``.
        recipe: how it trains; for ``underfit`` the recipe before its per-seed stopping
            accuracy is known.
        train, validation: the data splits it trains and is validated on.
        start: the model each seed fine-tunes from (its own seed's), or None.
        match_accuracy_of: ``underfit`` only: stop at the mean validation accuracy of
            these models (of the same seed).
        stacked: train all seeds as one stack (False: one seed at a time).
        shaped_by: the training settings that shape it (with the data settings and
            the models it depends on, they key its cached files).
    """

    name: str
    role: Literal["baseline", "adversarial", "control"]
    recipe: Recipe
    train: str = "train"
    validation: str = "validation"
    start: str | None = None
    match_accuracy_of: tuple[str, ...] = ()
    stacked: bool = True
    shaped_by: tuple[str, ...] = ()

    @property
    def depends_on(self) -> tuple[str, ...]:
        """The models that must be trained first."""
        return ((self.start,) if self.start else ()) + self.match_accuracy_of


_SCRATCH = ("width", "batch_size", "standard_epochs", "lr", "stack_seeds", "stack_size")
_FINETUNE = (
    "width",
    "batch_size",
    "finetune_epochs",
    "finetune_lr",
    "train_pgd_steps",
    "stack_seeds",
    "stack_size",
)


def roster(settings: Settings) -> tuple[ModelSpec, ...]:
    """The models that ``settings.training.roster`` names, in training order.

    ``standard`` (the baseline, always) and ``shape_only`` from scratch; the
    adversarially trained models (PGD-Linf at each ``eps_linf``, PGD-L2, FGSM-RS) each
    fine-tuned from its own seed's standard model; ``underfit``, standard training stopped
    at the mean clean accuracy of its seed's adversarially trained models.

    Example:
        >>> from shapebias.experiments import Settings, roster
        >>> [spec.name for spec in roster(Settings())]
        ['standard', 'pgd_linf_4']
        >>> [spec.name for spec in roster(Settings.full())]
        ['standard', 'shape_only', 'pgd_linf_2', 'pgd_linf_4', 'pgd_l2', 'fgsm_rs', 'underfit']
    """
    chosen = set(settings.training.roster)
    training = settings.training
    stacked = training.stack_seeds
    scratch = dataclasses.replace(
        Recipe.standard(epochs=training.standard_epochs, optimizer="adam"), lr=training.lr
    )
    steps, epochs = training.train_pgd_steps, training.finetune_epochs
    candidates = {
        **{
            f"pgd_linf_{round(eps * 255)}": (
                Recipe.pgd_linf(eps, steps=steps, epochs=epochs, optimizer="adam"),
                "eps_linf",
                "pgd_linf",
            )
            for eps in training.eps_linf
        },
        "pgd_l2": (
            Recipe.pgd_l2(training.eps_l2, steps=steps, epochs=epochs, optimizer="adam"),
            "eps_l2",
            "pgd_l2",
        ),
        "fgsm_rs": (
            Recipe.fgsm(training.eps_fgsm, random_start=True, epochs=epochs, optimizer="adam"),
            "eps_fgsm",
            "fgsm_rs",
        ),
    }
    adversarial = {
        name: (recipe, budget)
        for name, (recipe, budget, entry) in candidates.items()
        if entry in chosen
    }
    specs = [ModelSpec(BASELINE, "baseline", scratch, stacked=stacked, shaped_by=_SCRATCH)]
    if "shape_only" in chosen:
        specs.append(
            ModelSpec(
                "shape_only",
                "control",
                scratch,
                "train_shape_only",
                "validation_shape_only",
                stacked=stacked,
                shaped_by=_SCRATCH,
            )
        )
    specs.extend(
        (
            ModelSpec(
                name,
                "adversarial",
                dataclasses.replace(recipe, lr=training.finetune_lr),
                start=BASELINE,
                stacked=stacked,
                shaped_by=(*_FINETUNE, budget),
            )
            for name, (recipe, budget) in adversarial.items()
        )
    )
    if "underfit" not in chosen:
        return tuple(specs)
    underfit = dataclasses.replace(
        Recipe.underfit(epochs=training.standard_epochs, match_accuracy=0.5, optimizer="adam"),
        lr=training.lr,
    )
    specs.append(
        ModelSpec(
            "underfit",
            "control",
            underfit,
            match_accuracy_of=tuple(adversarial),
            stacked=False,
            shaped_by=("width", "batch_size", "standard_epochs", "lr"),
        )
    )
    return tuple(specs)
