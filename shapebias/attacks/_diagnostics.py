"""Can this robust accuracy be trusted? Diagnostics computed beside every evaluation.

Each costs a few forward (and one backward) passes per batch, never a second attack:
the share of correctly classified samples with a zero or non-finite input gradient at
the clean point (the masked-gradient check of Croce & Hein's AutoAttack), black-box
breaks, monotonicity across budgets, a stochastic-model check and the verified count.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import torch
import torch.nn.functional as F

from shapebias._validation import check_int
from shapebias.attacks._masking import GradientMaskingWarning
from shapebias.attacks._model_checks import input_gradient

__all__ = [
    "Diagnostics",
    "Expectation",
    "check_eot",
    "differs_between_passes",
    "masked_gradients",
    "warn_diagnostics",
]


@dataclasses.dataclass(frozen=True)
class Diagnostics:
    """Findings that say whether a :class:`~shapebias.attacks.RobustAccuracy` can be trusted.

    Attributes:
        zero_gradient: share of the correctly classified samples whose input gradient of
            the cross-entropy loss is zero or non-finite at the clean point (gradient
            masking: the gradient attacks have nothing to follow). ``0.0`` is clean.
        zero_gradient_count: their number.
        black_box_breaks: samples a gradient-free attack (Square) broke after every
            gradient attack before it had failed. ``0`` is clean.
        monotone: whether robust accuracy falls with the budget, where several budgets
            ran (:func:`~shapebias.attacks.robustness_curve`); ``None`` for one budget.
        stochastic: whether two eval-mode forward passes of the same batch differed.
        eot: forward passes per expectation and per verification (1: deterministic).
        verified: the robust count re-checked: every attacked sample's returned image
            re-classified in fresh float32 forward passes (``eot`` of them) outside any
            autocast; the reported robust accuracy is this one.
        disagreements: samples whose attack bookkeeping and re-classification disagreed
            (on a stochastic model under ``eot`` the attacks see mean logits and the check
            fresh passes, so some disagreement is expected there and not flagged).

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD, robust_accuracy
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(3).eval()
        >>> data = (torch.rand(8, 3, 16, 16), torch.randint(0, 3, (8,)))
        >>> result = robust_accuracy(model, data, PGD(eps=8 / 255, steps=3), progress=False)
        >>> d = result.diagnostics
        >>> (d.stochastic, d.eot, d.verified == result.robust_correct)
        (False, 1, True)
    """

    zero_gradient: float = 0.0
    zero_gradient_count: int = 0
    black_box_breaks: int = 0
    monotone: bool | None = None
    stochastic: bool = False
    eot: int = 1
    verified: int = 0
    disagreements: int = 0

    @property
    def suspect(self) -> bool:
        """Whether any finding makes the robust accuracy suspect."""
        return bool(
            self.zero_gradient_count
            or self.black_box_breaks
            or self.monotone is False
            or (self.disagreements and not self.stochastic)
        )

    def to_dict(self) -> dict[str, Any]:
        """The findings as a JSON-ready dict (``suspect`` included)."""
        return {**dataclasses.asdict(self), "suspect": self.suspect}


def check_eot(eot: Any) -> int | None:
    """``eot`` is None or a positive int."""
    if eot is not None:
        check_int(eot, "eot", low=1)
    return eot


class Expectation:
    """``images -> mean of k forward passes' logits``: what the gradient attacks see under ``eot``.

    A plain callable (not a Module), so it never changes the wrapped model's mode.
    """

    def __init__(self, model: Any, passes: int) -> None:
        self.model = model
        self.passes = passes

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model(images) for _ in range(self.passes)]).mean(0)


def differs_between_passes(model: Any, images: torch.Tensor) -> bool:
    """Whether two float32 eval forward passes of ``images`` give different logits.

    Raises:
        ValueError: the two passes' logits differ in shape.
    """
    with torch.no_grad():
        first, second = model(images), model(images)
    if first.shape != second.shape:
        raise ValueError(
            "model must return logits of one shape for one batch, but two forward passes of "
            f"the same images returned {tuple(first.shape)} and then {tuple(second.shape)}. "
            "Make forward deterministic in its output shape."
        )
    # identical arithmetic on identical inputs: a deterministic model repeats bit for bit on
    # CPU; the tolerance only absorbs nondeterministic GPU reductions (a few ulps of |logits|).
    scale = float(first.abs().max()) if first.numel() else 0.0
    return bool((first - second).abs().max() > 1e-5 * (1.0 + scale)) if first.numel() else False


def masked_gradients(
    model: Any, images: torch.Tensor, labels: torch.Tensor, correct: torch.Tensor
) -> int:
    """How many ``correct`` samples have a zero or non-finite input gradient of their CE loss.

    One forward and one backward pass over the correct samples. Per-sample losses are
    summed: each sample's gradient is that of its own loss (eval-mode models keep samples
    independent).
    """
    if not bool(correct.any()):
        return 0
    x = images[correct].detach().clone().requires_grad_(True)
    with torch.enable_grad():
        loss = F.cross_entropy(model(x).float(), labels[correct], reduction="sum")
        grad = input_gradient(loss, x).flatten(1)
    zero = (grad == 0).all(1)
    bad = ~torch.isfinite(grad).all(1)
    return int((zero | bad).sum())


def warn_diagnostics(d: Diagnostics, clean_correct: int) -> None:
    """One :class:`GradientMaskingWarning` per finding that makes the number suspect."""
    if d.zero_gradient_count:
        warnings.warn(
            f"{d.zero_gradient_count} of {clean_correct} correctly classified sample(s) "
            f"({100 * d.zero_gradient:.1f} %) have a zero or non-finite input gradient at the "
            "clean point: the gradient attacks have nothing to follow (gradient masking, e.g. "
            "a non-differentiable quantisation or saturated softmax), so the robust accuracy "
            "overstates robustness. Run the gradient-free Square attack (version='standard'), "
            "or replace the masking operation by a differentiable approximation (BPDA).",
            GradientMaskingWarning,
            stacklevel=4,
        )
    if d.disagreements and not d.stochastic:
        warnings.warn(
            f"{d.disagreements} sample(s) were counted differently by the attacks' own "
            "bookkeeping and by a fresh float32 re-classification of the returned images; "
            "the reported robust accuracy is the re-classified (verified) one. Check the "
            "model for nondeterminism or precision-sensitive decisions.",
            GradientMaskingWarning,
            stacklevel=4,
        )
