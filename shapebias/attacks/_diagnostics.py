"""Can this robust accuracy be trusted? Diagnostics computed beside every evaluation.

Each costs a few forward (and at most two backward) passes per batch, never a second
attack: the share of correctly classified samples with a zero or non-finite input
gradient at the clean point (the masked-gradient check of Croce & Hein's AutoAttack) and
at the first gradient attack's start point, black-box breaks, monotonicity across
budgets, a stochastic-model check and the verified count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F

from shapebias._config import config_kwargs
from shapebias._validation import check_int
from shapebias.attacks._apgd import APGD
from shapebias.attacks._apgd import _settings as apgd_settings
from shapebias.attacks._fab import FAB
from shapebias.attacks._fgsm import FGSM
from shapebias.attacks._masking import GradientMaskingWarning
from shapebias.attacks._model_checks import input_gradient
from shapebias.attacks._pgd import PGD
from shapebias.attacks._threat import project_band, random_start

__all__ = [
    "Diagnostics",
    "Expectation",
    "check_eot",
    "differs_between_passes",
    "has_known_start",
    "masked_gradients",
    "start_point",
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
        start_zero_gradient: the same share at the point where the first gradient attack
            starts (``start_attack``'s random start inside the ball, drawn exactly as the
            attack draws it; the clean point for an attack without one). A gradient that
            is there at the clean image but vanishes beside it (an input quantisation that
            is exact on the 8-bit levels) passes the clean check and fails this one.
            ``0.0`` is clean; ``None`` where no library gradient attack ran first (a
            custom callable, or only Square), so its start is not known.
        start_zero_gradient_count: their number (``None`` likewise).
        start_attack: the attack whose start point was checked (``"APGD-CE"``), or ``None``.
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
    start_zero_gradient: float | None = None
    start_zero_gradient_count: int | None = None
    start_attack: str | None = None
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
            or self.start_zero_gradient_count
            or self.black_box_breaks
            or self.monotone is False
            or (self.disagreements and not self.stochastic)
        )

    def to_dict(self) -> dict[str, Any]:
        """The findings as a JSON-ready dict (``suspect`` included)."""
        return {**dataclasses.asdict(self), "suspect": self.suspect}

    def findings(self) -> list[str]:
        """The suspect findings in a few words each (empty when clean), for tables.

        Example:
            >>> from shapebias.attacks import Diagnostics
            >>> Diagnostics(zero_gradient=0.25, zero_gradient_count=2).findings()
            ['zero gradient at clean point 25.0 %']
        """
        found = []
        if self.zero_gradient_count:
            found.append(f"zero gradient at clean point {100 * self.zero_gradient:.1f} %")
        if self.start_zero_gradient_count:
            share = 100 * (self.start_zero_gradient or 0.0)
            found.append(f"zero gradient at {self.start_attack} start {share:.1f} %")
        if self.black_box_breaks:
            found.append(f"black-box breaks {self.black_box_breaks}")
        if self.monotone is False:
            found.append("not monotone in eps")
        if self.disagreements and not self.stochastic:
            found.append(f"verified count disagreements {self.disagreements}")
        return found


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


@contextlib.contextmanager
def _untouched(
    generator: torch.Generator | None, device: torch.device
) -> Iterator[torch.Generator | None]:
    """A generator that draws what ``generator`` would draw next, leaving it where it was.

    For ``None`` (the attack draws from torch's global generator of ``device``) the global
    state is forked and restored on exit.
    """
    if generator is not None:
        copy = torch.Generator(generator.device)
        copy.set_state(generator.get_state())
        yield copy
        return
    if device.type == "cpu":
        with torch.random.fork_rng(devices=[]):
            yield None
        return
    index = device.index if device.index is not None else 0
    with torch.random.fork_rng(devices=[index], device_type=device.type):
        yield None


def start_point(
    attack: Any, model: Any, images: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor | None:
    """Where the library's gradient ``attack`` starts on ``images``, without running it.

    PGD with ``random_start`` and APGD draw their start for the whole batch, first, from
    their generator; the same draw is made here from a copy of it (or a fork of torch's
    global generator), so the point is the attack's own and the attack's randomness is
    untouched. FGSM, PGD without a random start and FAB's first run start at the images.

    Returns:
        The start images ``(N, C, H, W)`` (``images`` itself for a clean start), or
        ``None`` for any other attack (its start is not known).
    """
    if isinstance(attack, PGD):
        plan = attack.plan(model, images, labels)
        if not plan.random_start:
            return images
        with _untouched(plan.generator, images.device) as generator:
            start = random_start(images, plan.eps, plan.norm, generator)
        if plan.band is not None:
            start = project_band(start, plan.eps, plan.norm, plan.band)
        return (images + start).clamp(0, 1)
    if isinstance(attack, APGD):
        settings = apgd_settings(model, images, labels, **config_kwargs(attack))
        with _untouched(settings.generator, images.device) as generator:
            start = random_start(images, settings.eps, settings.norm, generator)
        return (images + start).clamp(0, 1)
    if isinstance(attack, (FGSM, FAB)):
        return images
    return None


def has_known_start(attack: Any) -> bool:
    """Whether :func:`start_point` knows where ``attack`` starts (the library gradient attacks)."""
    return isinstance(attack, (PGD, APGD, FGSM, FAB))


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
    if d.start_zero_gradient_count:
        warnings.warn(
            f"{d.start_zero_gradient_count} of {clean_correct} correctly classified sample(s) "
            f"({100 * (d.start_zero_gradient or 0.0):.1f} %) have a zero or non-finite input "
            f"gradient at the start point of {d.start_attack} (its random start inside the "
            "budget, or the clean point for an attack without one): the gradient attacks "
            "start where they have nothing to follow, so the "
            "robust accuracy overstates robustness. A gradient that vanishes beside the "
            "clean images (an input quantisation exact only on the 8-bit levels, a model "
            "flat outside a small neighbourhood) is masking even where the clean point "
            "looks fine. Attack through a differentiable approximation of the masking "
            "operation (BPDA), and run the gradient-free Square attack (version='standard').",
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
