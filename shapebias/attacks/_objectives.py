"""What an attack maximises, and when it has succeeded."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["LOSSES", "attack_objective", "attack_succeeded", "check_num_targets", "target_sets"]

LOSSES = ("ce", "margin")


def _margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``max_{j != y} z_j - z_y`` per sample (Carlini & Wagner's margin)."""
    true = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf"))
    return others.amax(1) - true


def attack_objective(
    logits: torch.Tensor, labels: torch.Tensor, loss: str, targeted: bool
) -> torch.Tensor:
    """The per-sample quantity an attack ascends, shape ``(N,)``.

    Untargeted attacks ascend the loss of the true label; targeted ones descend the
    loss of the target label (ascend its negative).
    """
    if loss == "ce":
        value = F.cross_entropy(logits, labels, reduction="none")
    else:
        value = _margin(logits, labels)
    return -value if targeted else value


def attack_succeeded(logits: torch.Tensor, labels: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Boolean ``(N,)``: predicted the target (targeted) or anything but the label."""
    predicted = logits.argmax(1)
    return predicted == labels if targeted else predicted != labels


def check_num_targets(num_targets: int, num_classes: int) -> None:
    """Targeted runs need ``num_targets`` classes other than the label (APGD-T, FAB-T)."""
    if num_targets >= num_classes:
        raise ValueError(
            f"num_targets must be below the model's {num_classes} classes (the true class is "
            f"never a target), got {num_targets}. Use num_targets={num_classes - 1}."
        )


def target_sets(
    logits: torch.Tensor, labels: torch.Tensor, targeted: bool, count: int
) -> list[torch.Tensor | None]:
    """The runs of an attack: ``[None]`` untargeted; targeted, one ``(N,)`` tensor per rank
    of the ``count`` classes of highest logit other than the label (APGD-T, FAB-T).
    """
    if not targeted:
        return [None]
    others = logits.scatter(1, labels[:, None], float("-inf"))
    return list(others.topk(count, dim=1).indices.unbind(1))
