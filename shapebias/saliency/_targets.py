"""What a saliency map explains: the target class and the scalar output per sample."""

from __future__ import annotations

from numbers import Integral
from typing import Any

import torch
import torch.nn.functional as F

from shapebias import _gradients
from shapebias._validation import (
    check_choice,
    check_finite_gradient,
    check_int,
    check_labels,
    check_logits,
)

__all__ = [
    "CUT_FIX",
    "OUTPUTS",
    "check_output",
    "check_target",
    "input_gradient",
    "objective",
    "predict",
]

OUTPUTS = ("logit", "loss")

CUT_FIX = (
    "; to explain a model that quantises or preprocesses its input outside autograd, "
    "explain the differentiable network it calls"
)
"""The saliency methods' advice for a model cut from its input (after the general fix)."""


def check_output(output: Any) -> str:
    """Check the ``output`` argument: ``"logit"`` or ``"loss"``."""
    return check_choice(output, "output", OUTPUTS)


def check_target(target: Any, images: torch.Tensor) -> torch.Tensor | None:
    """Validate ``target`` and return it as an int64 ``(N,)`` tensor, or ``None``.

    ``target`` is an int (the same class for every image), an int64 ``(N,)`` tensor, or
    ``None`` (the model's predicted class). The upper bound, the number of logits, is
    checked on the first model output by :func:`input_gradient`.
    """
    if target is None:
        return None
    if isinstance(target, Integral) and not isinstance(target, bool):
        index = check_int(int(target), "target", low=0)
        return torch.full((images.shape[0],), index, dtype=torch.int64, device=images.device)
    if not isinstance(target, torch.Tensor):
        raise TypeError(
            "target must be an int, an int64 tensor of shape (N,) or None (the predicted "
            f"class), got {type(target).__name__}."
        )
    check_labels(target, images, name="target")
    return target.detach()


def objective(logits: torch.Tensor, target: torch.Tensor, output: str) -> torch.Tensor:
    """The explained scalar per sample, shape ``(N,)``: the target's logit or its loss.

    ``"loss"`` is the cross-entropy of the target (the true label in Zhang & Zhu 2019),
    per sample (no mean over the batch, so gradients do not depend on the batch size).
    """
    if output == "loss":
        return F.cross_entropy(logits, target, reduction="none")
    return logits.gather(1, target[:, None]).squeeze(1)


def predict(model: Any, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The model's predicted class ``(N,)`` on clean images, no gradient.

    The images go through the model in chunks of at most ``batch_size``, so memory
    follows ``batch_size`` as in the methods themselves; every chunk's logits are
    checked (one check per model call, not per step of any loop).
    """
    predictions = []
    with torch.no_grad():
        for chunk in images.split(batch_size):
            logits = model(chunk)
            check_logits(logits, chunk.shape[0])
            predictions.append(logits.argmax(1))
    return torch.cat(predictions)


def input_gradient(
    model: Any,
    inputs: torch.Tensor,
    target: torch.Tensor | None,
    output: str,
    *,
    check: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the per-sample objective w.r.t. ``inputs``, and the objective values.

    One forward and one input backward; ``torch.autograd.grad`` touches no parameter
    ``.grad``. With ``target=None`` the predicted class of ``inputs`` is explained. With
    ``check=True`` the model's output, the target's range and the gradient's finiteness
    are validated. A model whose output does not depend on its input through autograd
    (a ``.detach()`` or ``torch.no_grad()`` in its ``forward``) gets a clear
    ``ValueError`` (:func:`shapebias._gradients.input_gradient`), whatever ``check``.
    """
    with torch.enable_grad():
        x = inputs.detach().requires_grad_(True)
        logits = model(x)
        if check:
            check_logits(logits, x.shape[0], target, name="target")
        if target is None:
            target = logits.detach().argmax(1)
        values = objective(logits, target, output)
        grad = _gradients.input_gradient(
            values.sum(), x, consequence="a saliency map has no input gradient", fix=CUT_FIX
        )
    if check:
        check_finite_gradient(grad, "saliency")
    return grad, values.detach()
