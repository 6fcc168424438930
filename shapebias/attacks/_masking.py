"""Flags for robustness numbers that look like gradient masking (Croce & Hein 2020, Sec. 5)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping, Sequence

import torch

__all__ = ["GradientMaskingWarning", "warn_if_black_box_stronger", "warn_if_not_monotone"]


class GradientMaskingWarning(UserWarning):
    """A robustness evaluation shows a sign of gradient masking; the number may be too high.

    Raised (as a warning) when a gradient-free attack breaks samples that the gradient
    attacks before it could not, or when robust accuracy rises with a larger budget.
    """


def warn_if_black_box_stronger(
    names: Sequence[str], gradient_free: Sequence[bool], broken_by: torch.Tensor
) -> None:
    """Warn when a gradient-free attack broke samples every earlier gradient attack missed.

    Args:
        names: the attacks' names, in order.
        gradient_free: per attack, whether it uses no gradients (Square).
        broken_by: per sample, the index of the attack that first broke it, or ``-1``.
    """
    for index, (name, free) in enumerate(zip(names, gradient_free, strict=True)):
        earlier = [n for n, f in zip(names[:index], gradient_free[:index], strict=True) if not f]
        count = int((broken_by == index).sum())
        if free and earlier and count:
            warnings.warn(
                f"{name} (black-box) broke {count} sample(s) that the gradient attacks "
                f"before it ({', '.join(earlier)}) left standing: the model may mask its "
                "gradients, and white-box robust accuracy overstates its robustness.",
                GradientMaskingWarning,
                stacklevel=3,
            )


def warn_if_not_monotone(robust_by_eps: Mapping[float, float]) -> None:
    """Warn when robust accuracy is higher at a larger budget (it cannot be, for a true bound).

    Args:
        robust_by_eps: ``{eps: robust accuracy}``.
    """
    for (small, low), (large, high) in itertools.pairwise(sorted(robust_by_eps.items())):
        if high > low:
            warnings.warn(
                f"robust accuracy rises from {low:.4g} at eps={small:.4g} to {high:.4g} at "
                f"eps={large:.4g}; a larger budget can only help the attacker, so the "
                "attack is failing (gradient masking or too few steps).",
                GradientMaskingWarning,
                stacklevel=3,
            )
