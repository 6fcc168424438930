"""Plain input gradients and gradient x input."""

from __future__ import annotations

from typing import Any

import torch

from shapebias._validation import check_images, check_model
from shapebias.models import warn_if_train_mode
from shapebias.saliency._targets import check_output, check_target, input_gradient

__all__ = ["gradient", "input_x_gradient"]


def _checked_gradient(
    model: Any, images: torch.Tensor, target: Any, output: Any, what: str
) -> torch.Tensor:
    check_model(model)
    check_images(images)
    target_t = check_target(target, images)
    output = check_output(output)
    warn_if_train_mode(model, what)
    return input_gradient(model, images, target_t, output, check=True)[0]


def gradient(
    model: Any,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    output: str = "logit",
) -> torch.Tensor:
    """The gradient of the target's logit (or loss) w.r.t. the input pixels.

    The vanilla saliency map of Simonyan et al. (2014), taken with
    :func:`torch.autograd.grad` with respect to the images only: no parameter ``.grad``
    is written, the model's mode is left alone, and it works under an outer
    :func:`torch.no_grad`. Each sample's gradient is that of its own output (outputs are
    summed, never averaged over the batch), so it does not depend on the batch.

    Args:
        model: any callable ``images -> logits (N, K)``, normalisation inside it.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: the class to explain: an int, an int64 ``(N,)`` tensor, or ``None`` for
            the predicted class.
        output: ``"logit"`` (the target's logit) or ``"loss"`` (the cross-entropy of the
            target, the choice of Zhang & Zhu 2019 with ``target`` the true label).

    Returns:
        The detached gradient, same shape, dtype and device as ``images``.

    Raises:
        TypeError: non-tensor or integer images, a target of the wrong type, a model that
            does not return a logits tensor.
        ValueError: bad image shape or range, a target of the wrong shape or outside the
            model's classes, an unknown ``output``, a model returning NaN/inf logits, a
            model whose output does not depend on its input through autograd (a
            ``.detach()``, rounding or ``torch.no_grad()`` in its ``forward``).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import gradient
        >>> model = small_cnn(10).eval()
        >>> gradient(model, torch.rand(2, 3, 32, 32), torch.tensor([3, 5])).shape
        torch.Size([2, 3, 32, 32])

    References:
        Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional Networks: Visualising
        Image Classification Models and Saliency Maps", ICLR workshop 2014.
    """
    return _checked_gradient(model, images, target, output, "gradient")


def input_x_gradient(
    model: Any,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    output: str = "logit",
) -> torch.Tensor:
    """Gradient times input, ``x * grad_x f(x)`` (Shrikumar et al. 2016).

    For a model that is linear in its input this is each pixel's exact contribution to
    the output relative to a black image; see :func:`integrated_gradients` for the
    general, path-integrated version. Arguments, checks and guarantees are those of
    :func:`gradient`.

    Returns:
        ``images * gradient(...)``, same shape, dtype and device as ``images``.

    Example:
        >>> import torch
        >>> from shapebias.models import small_cnn
        >>> from shapebias.saliency import input_x_gradient
        >>> input_x_gradient(small_cnn(10).eval(), torch.rand(1, 3, 32, 32), 0).shape
        torch.Size([1, 3, 32, 32])

    References:
        Shrikumar et al., "Not Just a Black Box: Learning Important Features Through
        Propagating Activation Differences", arXiv:1605.01713, 2016.
    """
    return images.detach() * _checked_gradient(model, images, target, output, "input_x_gradient")
