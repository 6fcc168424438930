"""What every attack checks about the model it is given: no stack where samples are
dropped, and logits that depend on the images through autograd.

Both run once per call (``refuse_stack``) or cost one attribute test per gradient
(``input_gradient``), so they never show in an attack's time. Later diagnostics of
masked gradients (a zero or shattered input gradient) belong beside them.
"""

from __future__ import annotations

from typing import Any

import torch

from shapebias import _gradients
from shapebias.models import holds_stack

__all__ = ["input_gradient", "refuse_stack"]


def refuse_stack(model: Any, user: str, why: str, fix: str = "") -> None:
    """Refuse a model that is or holds a :class:`~shapebias.models.StackedModels`.

    For code that drops samples from the batch (an attack whose samples leave at their
    first misclassifying iterate, a later run or restart on the samples still standing,
    an evaluation that attacks only the correctly classified samples): a stack routes
    images to its members by their position in the batch, so the images left would
    reach the wrong member and the result would be silently wrong.

    Args:
        model: the model the caller was given.
        user: the public function, named in the message (``"apgd"``).
        why: how it drops samples (``"a sample leaves at its first misclassifying iterate"``).
        fix: an extra sentence of advice, appended to the message.

    Raises:
        ValueError: ``model`` is or contains a ``StackedModels``.
    """
    if holds_stack(model):
        raise ValueError(
            f"{user} cannot take a StackedModels as model: it drops samples from the batch "
            f"({why}), and a stack routes images to its members by their position in the "
            "batch, so the images left would reach the wrong member and the result would be "
            f"silently wrong. Attack each member of stack.unstack() instead.{fix}"
        )


_NO_GRADIENT = "; for a model that truly has no gradient, use the gradient-free Square attack"


def input_gradient(
    output: torch.Tensor, images: torch.Tensor, *, retain_graph: bool = False
) -> torch.Tensor:
    """``d output / d images`` (``output`` a scalar) for an attack, or a clear error.

    :func:`shapebias._gradients.input_gradient` with the attacks' advice: a model with no
    gradient at all can still be attacked by the gradient-free Square attack.

    Args:
        output: the scalar to differentiate, computed from ``images``.
        images: the leaf tensor (``requires_grad=True``) the model was called on.
        retain_graph: keep the graph for a further gradient.

    Returns:
        The gradient, shaped like ``images``.

    Raises:
        ValueError: ``output`` does not depend on ``images`` through autograd (a
            ``.detach()``, rounding or ``torch.no_grad()`` in the model's ``forward``).
    """
    return _gradients.input_gradient(
        output,
        images,
        consequence="an attack has no input gradient",
        fix=_NO_GRADIENT,
        retain_graph=retain_graph,
    )
