"""Input gradients with a clear error where a model cuts its output from its input.

Attacks and saliency maps both differentiate a model's output with respect to its input.
:func:`torch.autograd.grad` answers a model that cut the input from the graph (a
``.detach()`` or ``torch.no_grad()`` inside ``forward``) with "element 0 of tensors does
not require grad" or "One of the differentiated Tensors appears to not have been used in
the graph", which names neither the model nor the cause; :func:`input_gradient` names
both. It costs one attribute test and one ``None`` test per gradient.
"""

from __future__ import annotations

import torch

__all__ = ["GRAPH_CUTS", "cut_from_graph", "input_gradient"]

GRAPH_CUTS = (
    "a .detach() (or .data, or a round trip through NumPy or .item()), a rounding or "
    "integer conversion (.round(), .long(), .to(torch.uint8)) that cuts the graph, or a "
    "torch.no_grad() / torch.inference_mode() block"
)
"""What cuts a tensor from the autograd graph inside a model's ``forward``, for messages."""


def cut_from_graph(consequence: str, fix: str = "") -> ValueError:
    """The error for a model whose output does not depend on its input through autograd.

    Args:
        consequence: what the caller lacks, completing "so ..." (``"an attack has no
            input gradient"``).
        fix: advice for the caller's kind of computation, appended after the general fix
            (``"; for a model that truly has no gradient, use ..."``).
    """
    return ValueError(
        "model must compute its logits from the images with operations autograd can "
        "differentiate, but its output does not depend on its input through autograd, so "
        f"{consequence}. Likely cause, inside forward: {GRAPH_CUTS}. Remove "
        f"it, or write quantisation as a straight-through estimator x + (q(x) - x).detach()"
        f"{fix}."
    )


def input_gradient(
    output: torch.Tensor,
    images: torch.Tensor,
    *,
    consequence: str,
    fix: str = "",
    retain_graph: bool = False,
) -> torch.Tensor:
    """``d output / d images`` (``output`` a scalar), or a clear error where there is none.

    Args:
        output: the scalar to differentiate, computed from ``images``.
        images: the leaf tensor (``requires_grad=True``) the model was called on.
        consequence: what the caller lacks without the gradient, for the error
            (see :func:`cut_from_graph`).
        fix: extra advice for the error.
        retain_graph: keep the graph for a further gradient.

    Returns:
        The gradient, shaped like ``images``.

    Raises:
        ValueError: ``output`` does not depend on ``images`` through autograd.
    """
    if not output.requires_grad:
        raise cut_from_graph(consequence, fix)
    (grad,) = torch.autograd.grad(output, images, retain_graph=retain_graph, allow_unused=True)
    if grad is None:
        raise cut_from_graph(consequence, fix)
    return grad
