"""The difference-of-logits-ratio (DLR) loss of Croce & Hein (2020), untargeted and targeted."""

from __future__ import annotations

import torch

__all__ = ["dlr_loss", "targeted_dlr_loss"]

# Croce & Hein's reference code adds this to the denominator; kept so results agree.
_DLR_TINY = 1e-12


def dlr_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``DLR(z, y) = -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)``, per sample.

    ``z_pi1 >= z_pi2 >= ...`` are the sorted logits. The loss is invariant to shifting
    and rescaling the logits, so a model cannot hide behind large or saturated logits;
    it is positive exactly when the sample is misclassified. Needs at least 3 classes.

    Args:
        logits: ``(N, K)`` logits, ``K >= 3``.
        labels: ``(N,)`` int64 true labels.

    Returns:
        ``(N,)`` loss values, to be maximised by an attack.

    Example:
        >>> import torch
        >>> from shapebias.attacks import dlr_loss
        >>> round(dlr_loss(torch.tensor([[3.0, 1.0, 0.0]]), torch.tensor([0])).item(), 6)
        -0.666667

    References:
        Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
        diverse parameter-free attacks", ICML 2020, eq. (5).
    """
    top = logits.topk(3, dim=1).values
    true = logits.gather(1, labels[:, None]).squeeze(1)
    best_other = logits.scatter(1, labels[:, None], float("-inf")).amax(1)
    return -(true - best_other) / (top[:, 0] - top[:, 2] + _DLR_TINY)


def targeted_dlr_loss(
    logits: torch.Tensor, labels: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """``-(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)``, per sample (the targeted DLR).

    Maximising it pushes the target logit ``z_t`` above the true one ``z_y``. Needs at
    least 4 classes.

    Args:
        logits: ``(N, K)`` logits, ``K >= 4``.
        labels: ``(N,)`` int64 true labels.
        targets: ``(N,)`` int64 target labels.

    Returns:
        ``(N,)`` loss values, to be maximised by an attack.

    Example:
        >>> import torch
        >>> from shapebias.attacks import targeted_dlr_loss
        >>> z = torch.tensor([[4.0, 2.0, 1.0, 0.0]])
        >>> round(targeted_dlr_loss(z, torch.tensor([0]), torch.tensor([1])).item(), 6)
        -0.571429

    References:
        Croce & Hein, ICML 2020, eq. (6).
    """
    top = logits.topk(4, dim=1).values
    true = logits.gather(1, labels[:, None]).squeeze(1)
    target = logits.gather(1, targets[:, None]).squeeze(1)
    return -(true - target) / (top[:, 0] - (top[:, 2] + top[:, 3]) / 2 + _DLR_TINY)
