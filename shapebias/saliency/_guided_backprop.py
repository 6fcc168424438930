"""Guided backpropagation: input gradients with negative signals stopped at every ReLU."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from shapebias._validation import check_images, check_module
from shapebias.models import warn_if_train_mode
from shapebias.saliency._hooks import HOOKS, forward_hooks
from shapebias.saliency._targets import check_output, check_target, input_gradient

__all__ = ["guided_backprop"]


class _PositiveGradient(torch.autograd.Function):
    """Identity forward (a copy); backward lets only positive gradients through."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        # A copy, not a view: later in-place ops (ReLU(inplace=True)) may modify it.
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad.clamp_min(0)


def _guide(module: nn.Module, inputs: Any, out: torch.Tensor) -> torch.Tensor:
    # ReLU's own backward keeps the gradient where its output is positive; clamping the
    # incoming gradient first gives the guided rule grad_in = (out > 0) * relu(grad_out).
    return _PositiveGradient.apply(out)


def guided_backprop(
    model: nn.Module,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    output: str = "logit",
) -> torch.Tensor:
    """Guided backpropagation (Springenberg et al. 2015).

    The input gradient, except that at every ``nn.ReLU`` only positive gradients flow
    back (and only where the ReLU was active). It is implemented with forward hooks
    that are removed when the call ends, also on error; the ReLU modules themselves are
    never modified, so ``ReLU(inplace=True)`` (torchvision's ResNets) keeps working.
    Functional ``F.relu`` calls cannot be hooked and behave as in :func:`gradient`.

    Guided backprop is known to be nearly independent of the model's higher layers
    (Adebayo et al. 2018; check with :func:`model_randomization_test`): it reconstructs
    the image more than it explains the decision.

    Args:
        model: an ``nn.Module`` mapping images to logits ``(N, K)``, with ``nn.ReLU``
            modules.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: an int, an int64 ``(N,)`` tensor, or ``None`` for the predicted class.
        output: ``"logit"`` or ``"loss"``.

    Returns:
        The detached map, same shape, dtype and device as ``images``.

    Raises:
        TypeError: a model that is not an ``nn.Module``, bad images or target.
        ValueError: a model without ``nn.ReLU`` modules, bad images or target, a model
            whose output does not depend on its input through autograd (a ``.detach()``,
            rounding or ``torch.no_grad()`` in its ``forward``).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import guided_backprop
        >>> guided_backprop(small_cnn(10).eval(), torch.rand(1, 3, 32, 32), 2).shape
        torch.Size([1, 3, 32, 32])

    References:
        Springenberg et al., "Striving for Simplicity: The All Convolutional Net",
        ICLR workshop 2015.
    """
    check_module(model, user="guided_backprop", reason=HOOKS)
    check_images(images)
    target_t = check_target(target, images)
    output = check_output(output)
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    if not relus:
        raise ValueError(
            "guided_backprop found no nn.ReLU module in the model; functional relu calls "
            "cannot be hooked. Use nn.ReLU modules or another method (gradient, smoothgrad)."
        )
    warn_if_train_mode(model, "guided_backprop")
    with forward_hooks(relus, _guide):
        return input_gradient(model, images, target_t, output, check=True)[0]
