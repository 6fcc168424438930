"""Grad-CAM: class activation maps from the gradient at a convolutional layer."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from shapebias._gradients import GRAPH_CUTS, cut_from_graph
from shapebias._validation import (
    check_bool,
    check_finite_gradient,
    check_images,
    check_logits,
    check_module,
)
from shapebias.models import check_unstacked, warn_if_train_mode
from shapebias.saliency._hooks import HOOKS, forward_hooks, resolve_layer
from shapebias.saliency._targets import CUT_FIX, check_output, check_target, objective

__all__ = ["grad_cam"]


def _capture_activation(
    model: nn.Module, layer: nn.Module, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the model once; return its logits and ``layer``'s output in the graph."""
    captured: list[Any] = []

    def keep(module: nn.Module, inputs: Any, out: Any) -> Any:
        captured.append(out)
        # Hand a copy downstream: an in-place op after the layer (ReLU(inplace=True))
        # must not overwrite the activation we differentiate against.
        return out.clone() if isinstance(out, torch.Tensor) else None

    with forward_hooks([layer], keep), torch.enable_grad():
        logits = model(images.detach().requires_grad_(True))
    name = type(layer).__name__
    if not captured:
        raise ValueError(
            f"layer {name} never ran in the model's forward pass; pick a module that "
            "forward() calls (see print(model))."
        )
    if len(captured) > 1:
        raise ValueError(
            f"layer {name} ran {len(captured)} times in one forward pass (a shared module); "
            "Grad-CAM needs a layer that runs once, e.g. a block rather than a shared ReLU."
        )
    activation = captured[0]
    if not isinstance(activation, torch.Tensor) or activation.ndim != 4:
        raise ValueError(
            f"layer must output a (N, K, h, w) feature map, but {name} returned "
            f"{getattr(activation, 'shape', type(activation).__name__)}. Pick a convolutional "
            "layer or block."
        )
    return logits, activation


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    target: int | torch.Tensor | None = None,
    *,
    layer: nn.Module | str,
    relu: bool = True,
    upsample: bool = True,
    output: str = "logit",
) -> torch.Tensor:
    """Grad-CAM (Selvaraju et al. 2017): feature maps weighted by their pooled gradients.

    With ``A`` the output ``(N, K, h, w)`` of ``layer`` and ``f`` the target's logit
    (or loss), ``cam = relu(sum_k w_k A_k)`` with ``w_k`` the spatial mean of
    ``df/dA_k``; the map is upsampled bilinearly to the image size. Conventions differ
    between libraries; this is the original paper's (ReLU after the weighted sum, no
    normalisation: divide by the maximum yourself, or use :func:`to_heatmap`).

    The hook that captures ``A`` is removed when the call ends, also on error. ``layer``
    must run exactly once per forward pass.

    Args:
        model: an ``nn.Module`` mapping images to logits ``(N, K)``.
        images: ``(N, C, H, W)`` in ``[0, 1]``.
        target: an int, an int64 ``(N,)`` tensor, or ``None`` for the predicted class.
        layer: a submodule of ``model`` (``model.layer4``) or its dotted name
            (``"layer4"``) whose output is a feature map.
        relu: keep only positive evidence (the paper's choice).
        upsample: resize to ``(H, W)``; otherwise return the layer's resolution.
        output: ``"logit"`` (the paper's class score) or ``"loss"``.

    Returns:
        A detached ``(N, 1, H, W)`` map (``(N, 1, h, w)`` without ``upsample``) with the
        images' dtype and device.

    Raises:
        TypeError: a model that is not an ``nn.Module``, a layer that is neither a module
            nor a name, bad images or target, ``relu`` or ``upsample`` not a ``bool``, a
            :class:`~shapebias.models.StackedModels` (explain its ``unstack()`` members).
        ValueError: a layer that is not a submodule, never runs, runs more than once, or
            does not output a 4-D feature map; bad images or target; NaN/inf logits; a
            model whose output does not depend on the layer through autograd (a
            ``.detach()`` or ``torch.no_grad()`` in its ``forward`` after the layer).

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.models import resnet18
        >>> from shapebias.saliency import grad_cam
        >>> model = resnet18(10).eval()
        >>> grad_cam(model, torch.rand(2, 3, 32, 32), 0, layer="layer4").shape
        torch.Size([2, 1, 32, 32])

    References:
        Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
        Gradient-based Localization", ICCV 2017.
    """
    check_module(model, user="grad_cam", reason=HOOKS)
    check_unstacked(
        model,
        "grad_cam",
        "it reads one layer's activations, where a stack holds all members side by side",
    )
    check_images(images)
    target_t = check_target(target, images)
    output = check_output(output)
    check_bool(relu, "relu")
    check_bool(upsample, "upsample")
    module = resolve_layer(model, layer)
    warn_if_train_mode(model, "grad_cam")

    logits, activation = _capture_activation(model, module, images)
    check_logits(logits, images.shape[0], target_t, name="target")
    if target_t is None:
        target_t = logits.detach().argmax(1)
    with torch.enable_grad():
        value = objective(logits, target_t, output).sum()
        if not value.requires_grad:
            raise cut_from_graph("grad_cam has no gradient at any layer", CUT_FIX)
        grad = None
        if activation.requires_grad:
            (grad,) = torch.autograd.grad(value, activation, allow_unused=True)
    if grad is None:
        raise ValueError(
            f"the model's output does not depend on layer {type(module).__name__} through "
            "autograd; pick a layer on the path to the logits, after any cut of the graph "
            f"in forward ({GRAPH_CUTS})."
        )
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = (weights * activation.detach()).sum(1, keepdim=True)
    if relu:
        cam = cam.clamp_min(0)
    check_finite_gradient(cam, "grad_cam")
    if upsample:
        cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)
    return cam
