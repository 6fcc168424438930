"""The fast gradient sign method (Goodfellow et al. 2015): one full-size L-inf sign step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from shapebias._config import config_kwargs
from shapebias.attacks._pgd import plan_attack, run_attack
from shapebias.models import warn_if_train_mode

__all__ = ["FGSM", "fgsm"]


def _fgsm_settings(eps: Any, targeted: Any, loss: Any, early_stop: Any = False) -> dict[str, Any]:
    return {
        "eps": eps,
        "steps": 1,
        "step_size": eps,
        "norm": "linf",
        "random_start": False,
        "restarts": 1,
        "targeted": targeted,
        "loss": loss,
        "early_stop": early_stop,
        "generator": None,
    }


def fgsm(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    targeted: bool = False,
    loss: str = "ce",
) -> torch.Tensor:
    """The fast gradient sign method: ``clip(x + eps * sign(grad_x loss), 0, 1)``.

    Exactly one-step :func:`~shapebias.attacks.pgd` with ``step_size=eps`` and no random
    start, sharing its validation and guarantees.

    Args:
        model: any callable ``images -> logits (N, K)``.
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64 true labels (targets when ``targeted``).
        eps: L-inf budget in pixel units, float or per-sample ``(N,)`` tensor.
        targeted: step towards ``labels`` instead of away.
        loss: ``"ce"`` or ``"margin"``.

    Returns:
        Detached adversarial images like ``images``.

    Example:
        >>> import torch
        >>> from shapebias.attacks import fgsm
        >>> from shapebias.models import small_cnn
        >>> x = torch.rand(2, 3, 32, 32)
        >>> adv = fgsm(small_cnn(10).eval(), x, torch.tensor([3, 5]), eps=4 / 255)
        >>> bool((adv - x).abs().max() <= 4 / 255 + 1e-6)
        True

    References:
        Goodfellow et al., "Explaining and Harnessing Adversarial Examples", ICLR 2015.
    """
    plan = plan_attack(model, images, labels, **_fgsm_settings(eps, targeted, loss))
    warn_if_train_mode(model, "fgsm")
    return run_attack(model, images, labels, plan).adversarial


@dataclass(frozen=True)
class FGSM:
    """A configured :func:`fgsm` attack, called as ``attack(model, images, labels)``.

    Example:
        >>> import torch
        >>> from shapebias.attacks import FGSM
        >>> from shapebias.models import small_cnn
        >>> attack = FGSM(eps=8 / 255)
        >>> attack(small_cnn(10).eval(), torch.rand(2, 3, 32, 32), torch.tensor([0, 1])).shape
        torch.Size([2, 3, 32, 32])
    """

    eps: float | torch.Tensor
    targeted: bool = False
    loss: str = "ce"

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return fgsm(model, images, labels, **config_kwargs(self))

    def plan(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> Any:
        """Validate the inputs and settings for one call (used by ``robust_accuracy``)."""
        return plan_attack(model, images, labels, **_fgsm_settings(**config_kwargs(self)))
