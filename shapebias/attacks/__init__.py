"""Attacks (FGSM, PGD, APGD, FAB, Square), the AutoAttack ensemble, robust accuracy and its
diagnostics."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.attacks._apgd import APGD, apgd, apgd_checkpoints
    from shapebias.attacks._diagnostics import Diagnostics
    from shapebias.attacks._dlr import dlr_loss, targeted_dlr_loss
    from shapebias.attacks._ensemble import auto_attack, auto_attack_suite, robustness_curve
    from shapebias.attacks._fab import FAB, fab
    from shapebias.attacks._fgsm import FGSM, fgsm
    from shapebias.attacks._masking import GradientMaskingWarning
    from shapebias.attacks._pgd import PGD, pgd, projected_ascent
    from shapebias.attacks._robust_accuracy import RobustAccuracy, attack_name, robust_accuracy
    from shapebias.attacks._square import Square, square, square_size
    from shapebias.attacks._survival import SurvivalCurve, survival_curve
    from shapebias.attacks._threat import project_l2, project_linf
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "APGD",
    "FAB",
    "FGSM",
    "PGD",
    "Diagnostics",
    "GradientMaskingWarning",
    "RobustAccuracy",
    "Square",
    "SurvivalCurve",
    "apgd",
    "apgd_checkpoints",
    "attack_name",
    "auto_attack",
    "auto_attack_suite",
    "dlr_loss",
    "fab",
    "fgsm",
    "pgd",
    "project_l2",
    "project_linf",
    "projected_ascent",
    "robust_accuracy",
    "robustness_curve",
    "square",
    "square_size",
    "survival_curve",
    "targeted_dlr_loss",
]
