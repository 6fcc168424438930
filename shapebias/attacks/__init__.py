"""Adversarial attacks (FGSM, PGD in L-inf and L2), threat-model projections, robust accuracy."""

from shapebias.attacks._fgsm import FGSM, fgsm
from shapebias.attacks._pgd import PGD, pgd
from shapebias.attacks._robust_accuracy import RobustAccuracy, robust_accuracy
from shapebias.attacks._threat import project_l2, project_linf

__all__ = [
    "FGSM",
    "PGD",
    "RobustAccuracy",
    "fgsm",
    "pgd",
    "project_l2",
    "project_linf",
    "robust_accuracy",
]
