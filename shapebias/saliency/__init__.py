"""Saliency maps: gradient, SmoothGrad, Integrated Gradients, Grad-CAM, guided backprop.

Every method explains one scalar per image, chosen with ``target`` (an int, an int64
``(N,)`` tensor, or ``None`` for the predicted class) and ``output`` (``"logit"``, or
``"loss"``: the cross-entropy of the target, Zhang & Zhu's choice). Gradients are taken
with :func:`torch.autograd.grad` w.r.t. the images only. Maps become pictures with
:func:`to_heatmap`, :func:`overlay` and :func:`plot_saliency_grid` (matplotlib, the
``plot`` extra), and :func:`model_randomization_test` checks that they depend on the
model at all.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shapebias.saliency._grad_cam import grad_cam
    from shapebias.saliency._gradient import gradient, input_x_gradient
    from shapebias.saliency._guided_backprop import guided_backprop
    from shapebias.saliency._integrated_gradients import integrated_gradients
    from shapebias.saliency._sanity import RandomizationResult, model_randomization_test
    from shapebias.saliency._smoothgrad import smoothgrad
    from shapebias.saliency._visualize import overlay, plot_saliency_grid, to_heatmap
else:  # the same names, each imported on first use (shapebias/_lazy.py)
    from shapebias._lazy import attach

    __getattr__, __dir__ = attach(__name__)

__all__ = [
    "RandomizationResult",
    "grad_cam",
    "gradient",
    "guided_backprop",
    "input_x_gradient",
    "integrated_gradients",
    "model_randomization_test",
    "overlay",
    "plot_saliency_grid",
    "smoothgrad",
    "to_heatmap",
]
