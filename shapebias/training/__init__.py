"""Robust training: adversarial losses, a resumable fit loop, checkpoints, recipes and DDP."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.training._callbacks import (
        Callback,
        CatastrophicOverfittingMonitor,
        CatastrophicOverfittingWarning,
        StopAtAccuracy,
        TrainingState,
    )
    from shapebias.training._checkpoint import load_checkpoint
    from shapebias.training._distributed import init_distributed, is_main_process
    from shapebias.training._fit import fit
    from shapebias.training._losses import (
        AdversarialLoss,
        FGSMRSLoss,
        StandardLoss,
        TradesLoss,
        adversarial_loss,
        fgsm_rs_loss,
        standard_loss,
        trades_loss,
    )
    from shapebias.training._recipes import Recipe
    from shapebias.training._schedules import Alternating, EpsWarmup, Step
    from shapebias.training._serialization import load_model, save_model
    from shapebias.training._stacked import StackedLoss
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "AdversarialLoss",
    "Alternating",
    "Callback",
    "CatastrophicOverfittingMonitor",
    "CatastrophicOverfittingWarning",
    "EpsWarmup",
    "FGSMRSLoss",
    "Recipe",
    "StackedLoss",
    "StandardLoss",
    "Step",
    "StopAtAccuracy",
    "TradesLoss",
    "TrainingState",
    "adversarial_loss",
    "fgsm_rs_loss",
    "fit",
    "init_distributed",
    "is_main_process",
    "load_checkpoint",
    "load_model",
    "save_model",
    "standard_loss",
    "trades_loss",
]
