"""Projected gradient descent (Madry et al. 2018) in the L-inf and L2 threat models."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

import torch
from tqdm import tqdm

from shapebias._config import config_kwargs
from shapebias._spectrum import band_project, checked_band_keep
from shapebias._validation import (
    check_bool,
    check_callable,
    check_choice,
    check_eps,
    check_finite_gradient,
    check_generator,
    check_images,
    check_int,
    check_labels,
    check_logits,
    check_model,
    check_perturbation,
    check_square,
)
from shapebias.attacks._model_checks import input_gradient, refuse_stack
from shapebias.attacks._objectives import LOSSES, attack_objective, attack_succeeded
from shapebias.attacks._threat import NORMS, ascent_step, project, project_band, random_start
from shapebias.models import warn_if_train_mode

__all__ = ["PGD", "ascend", "pgd", "projected_ascent"]


@dataclass(frozen=True)
class _Plan:
    """Validated settings of one attack call; budgets are ``(N, 1, 1, 1)`` tensors."""

    eps: torch.Tensor
    step_size: torch.Tensor
    steps: int
    norm: str
    random_start: bool
    restarts: int
    targeted: bool
    loss: str
    early_stop: bool
    generator: torch.Generator | None
    progress: bool = False
    band: torch.Tensor | None = None  # rfft2 mask of the frequency band, None: every frequency


class _Outcome(NamedTuple):
    adversarial: torch.Tensor
    fooled: torch.Tensor | None  # (N,) bool, known when the end point was evaluated
    objective: torch.Tensor | None  # (N,) objective at the returned point, likewise


def _step_and_band(
    step_size: Any,
    eps: torch.Tensor,
    steps: int,
    norm: str,
    band: Any,
    images: torch.Tensor,
    name: str,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The checked step lengths (default ``2.5 * eps / steps``) and the band's ``rfft2`` mask."""
    if step_size is None:
        step_t = eps * (2.5 / max(steps, 1))
    else:
        step_t = check_eps(step_size, images, name="step_size", pixel_bound=norm == "linf")
    keep = None
    if band is not None:
        size = check_square(images, name, "a frequency band (band=)")
        keep = checked_band_keep(band, size, images.device)
    return step_t, keep


def plan_attack(
    model: Any,
    images: Any,
    labels: Any,
    *,
    eps: Any,
    steps: Any,
    step_size: Any,
    norm: Any,
    random_start: Any,
    restarts: Any,
    targeted: Any,
    loss: Any,
    early_stop: Any,
    generator: Any,
    progress: Any = False,
    band: Any = None,
) -> _Plan:
    check_model(model)
    check_images(images)
    check_labels(labels, images)
    check_choice(norm, "norm", NORMS)
    eps_t = check_eps(eps, images, pixel_bound=norm == "linf")
    check_int(steps, "steps", low=0)
    check_int(restarts, "restarts", low=1)
    check_choice(loss, "loss", LOSSES)
    check_generator(generator, images)
    flags = {
        "random_start": random_start,
        "targeted": targeted,
        "early_stop": early_stop,
        "progress": progress,
    }
    for name, flag in flags.items():
        check_bool(flag, name)
    step_t, keep = _step_and_band(step_size, eps_t, steps, norm, band, images, "images")
    return _Plan(
        eps=eps_t,
        step_size=step_t,
        steps=steps,
        norm=norm,
        restarts=restarts,
        loss=loss,
        generator=generator,
        band=keep,
        **flags,
    )


def _one_run(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    plan: _Plan,
    *,
    active: torch.Tensor | None,
    check_output: bool,
    evaluate_end: bool,
) -> _Outcome:
    """One PGD run from one start point.

    Without early stopping this is Madry's loop and returns the last iterate. With it,
    a sample leaves the batch at the first iterate that fools the model, and that
    iterate is returned for it. The random start is drawn for the whole batch, whatever
    ``active`` holds, so the generator advances the same way in every mode.
    """
    clean = images.detach()
    x = images.detach()  # its own tensor: requires_grad is set on x, never on clean
    if plan.random_start:
        start = random_start(x, plan.eps, plan.norm, plan.generator)
        if plan.band is not None:
            start = project_band(start, plan.eps, plan.norm, plan.band)
        x = (x + start).clamp(0, 1)
    if not (plan.early_stop or evaluate_end or active is not None):
        return _Outcome(_ascend(model, x, clean, labels, plan, check_output), None, None)

    n = images.shape[0]
    adversarial = clean.clone()
    fooled = torch.zeros(n, dtype=torch.bool, device=images.device)
    objective_out = torch.full((n,), float("-inf"), dtype=images.dtype, device=images.device)
    where = torch.arange(n, device=images.device)
    target, eps, step_size = labels, plan.eps, plan.step_size
    if active is not None:
        where = where[active]
        x, clean, target, eps, step_size = (t[active] for t in (x, clean, target, eps, step_size))
    for step in _steps(plan.steps + 1, plan.progress):
        if where.numel() == 0:
            break
        last = step == plan.steps
        with torch.enable_grad():
            x.requires_grad_(not last)
            logits = model(x)
            if check_output and step == 0:
                check_logits(logits, x.shape[0], target)
            objective = attack_objective(logits, target, plan.loss, plan.targeted)
            grad = None if last else input_gradient(objective.sum(), x)
        if check_output and step == 0 and grad is not None:
            check_finite_gradient(grad, "attack")
        x = x.detach()
        success = attack_succeeded(logits.detach(), target, plan.targeted)
        done = torch.ones_like(success) if last else success
        if last or plan.early_stop:
            adversarial[where[done]] = x[done]
            fooled[where[done]] = success[done]
            objective_out[where[done]] = objective.detach()[done]
        if last:
            break
        if grad is None:  # taken on every step but the last
            raise RuntimeError("pgd internal error: no gradient before the last step.")
        if plan.early_stop:
            keep = ~done
            x, clean, target, eps, step_size, where, grad = (
                t[keep] for t in (x, clean, target, eps, step_size, where, grad)
            )
        x = _step(x, grad, clean, eps, step_size, plan.norm, plan.band)
    return _Outcome(adversarial, fooled, objective_out)


def _steps(count: int, progress: bool) -> Iterable[int]:
    """``range(count)``, with a progress bar (closed when the run ends) if asked for."""
    return tqdm(range(count), desc="pgd steps", disable=not progress, leave=False)


def _step(
    x: torch.Tensor,
    grad: torch.Tensor,
    clean: torch.Tensor,
    eps: torch.Tensor,
    step_size: torch.Tensor,
    norm: str,
    band: torch.Tensor | None = None,
) -> torch.Tensor:
    """Ascend, project onto the ball around ``clean``, clip to the image range.

    With a ``band`` mask the step ascends the gradient restricted to the band (the
    gradient of ``f(clean + P delta)``, ``P`` the band projection, self-adjoint) and the
    perturbation is mapped into band and ball by :func:`project_band` before the clip.
    """
    if band is None:
        x = x + ascent_step(grad, step_size, norm)
        return (clean + project(x - clean, eps, norm)).clamp(0, 1)
    delta = x - clean + ascent_step(band_project(grad, band), step_size, norm)
    return (clean + project_band(delta, eps, norm, band)).clamp(0, 1)


def ascend(
    model: Any,
    start: torch.Tensor,
    clean: torch.Tensor,
    objective: Callable[[torch.Tensor, int], torch.Tensor],
    *,
    eps: torch.Tensor,
    step_size: torch.Tensor,
    steps: int,
    norm: str,
    check_gradient: bool = False,
    progress: bool = False,
    band: torch.Tensor | None = None,
) -> torch.Tensor:
    """The plain projected-ascent loop: the forward, the input gradient and the step.

    Every step ascends ``objective(model(x), step).sum()`` (a per-sample ``(N,)``
    objective of the logits), then projects onto the ``norm`` ball of radius ``eps``
    around ``clean`` and clips to ``[0, 1]``. :func:`pgd` and :func:`projected_ascent`
    (TRADES's inner maximisation among its users) both run this loop; inputs are
    validated by the caller.

    Args:
        model: callable ``images -> logits``.
        start: the first iterate ``(N, C, H, W)`` (need not lie in the ball).
        clean: the centre of the ball, like ``start``.
        objective: ``(logits, step) -> (N,)`` quantity to ascend; ``step`` counts from 0.
        eps: budgets ``(N, 1, 1, 1)``.
        step_size: step lengths ``(N, 1, 1, 1)``.
        steps: number of steps.
        norm: ``"linf"`` or ``"l2"``.
        check_gradient: check that the first step's input gradient is finite
            (``sign(NaN)`` is 0: a NaN gradient would be a silent no-op step).
        progress: show a progress bar over the steps.
        band: optional ``rfft2`` mask of a radial frequency band the perturbation is
            restricted to (:func:`shapebias._spectrum.band_keep`).

    Returns:
        The detached last iterate (``start`` itself when ``steps == 0``).
    """
    x = start.detach()
    for step in _steps(steps, progress):
        with torch.enable_grad():
            x.requires_grad_(True)
            grad = input_gradient(objective(model(x), step).sum(), x)
        if check_gradient and step == 0:
            check_finite_gradient(grad, "attack")
        x = _step(x.detach(), grad, clean, eps, step_size, norm, band)
    return x


def _checked_objective(
    objective: Callable[[torch.Tensor, int], torch.Tensor], count: int
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """``objective``, with its first output checked to be a floating ``(count,)`` tensor."""

    def checked(logits: torch.Tensor, step: int) -> torch.Tensor:
        value = objective(logits, step)
        if step == 0 and not (
            isinstance(value, torch.Tensor)
            and value.is_floating_point()
            and tuple(value.shape) == (count,)
        ):
            raise ValueError(
                f"objective must return one floating value per image, shape ({count},), got "
                f"{getattr(value, 'shape', type(value).__name__)} "
                f"{getattr(value, 'dtype', '')}. Reduce per sample (reduction='none'), "
                "not over the batch."
            )
        return value

    return checked


def projected_ascent(
    model: Any,
    start: torch.Tensor,
    clean: torch.Tensor,
    objective: Callable[[torch.Tensor, int], torch.Tensor],
    *,
    eps: float | torch.Tensor,
    steps: int = 10,
    step_size: float | torch.Tensor | None = None,
    norm: str = "linf",
    band: tuple[float, float] | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Projected gradient ascent on your own objective of the logits: PGD's loop, opened up.

    Every step ascends ``objective(model(x), step).sum()`` with a steepest-ascent step
    (``x + a * sign(g)`` for L-inf, ``x + a * g / ||g||_2`` for L2), projects onto the
    ``norm`` ball of radius ``eps`` around ``clean`` and clips to ``[0, 1]``. It is the loop
    :func:`pgd` runs on the cross-entropy or margin of the labels, here with any
    per-sample objective and any start point: TRADES's inner maximisation (the KL
    divergence to the clean prediction, from ``clean + 0.001 * noise``), a logit-pairing
    or feature-space adversary. Gradients are taken with :func:`torch.autograd.grad`
    with respect to the input only; no parameter ``.grad`` is written and the model's
    mode is not touched (set it yourself, as for :func:`pgd`).

    Args:
        model: any callable ``images -> logits`` (or any output ``objective`` reads).
        start: the first iterate, a finite floating ``(N, C, H, W)`` tensor like
            ``clean``; it need not lie in the ball or in ``[0, 1]`` (the first step
            projects and clips it).
        clean: the centre of the ball, images ``(N, C, H, W)`` in ``[0, 1]``.
        objective: ``(output, step) -> (N,)``, the per-sample quantity to ascend
            (``step`` counts from 0); sums are taken per sample, never over the batch.
        eps: budget in pixel units (``8/255``), a float or a per-sample ``(N,)`` tensor.
        steps: number of steps (0 returns ``start`` detached).
        step_size: step length; default ``2.5 * eps / steps`` (Madry et al.).
        norm: ``"linf"`` or ``"l2"``.
        band: restrict the steps and the perturbation to the radial frequency band
            ``[low, high)`` in cycles per image, as :func:`pgd`'s ``band`` (square images).
        progress: show a progress bar over the steps.

    Returns:
        The detached last iterate, shaped like ``clean``: within ``eps`` of ``clean``
        and in ``[0, 1]`` once ``steps >= 1``.

    Raises:
        TypeError: a non-callable ``model`` or ``objective``, non-tensor or integer
            images, ``progress`` not a ``bool``, ``band`` not a pair of numbers.
        ValueError: ``clean`` not in ``[0, 1]`` or not ``(N, C, H, W)``; ``start`` not
            finite or not of ``clean``'s shape, dtype and device; negative, NaN or
            infinite ``eps``/``step_size`` (above 1 in L-inf); negative ``steps``; an
            unknown ``norm``; an ``objective`` that does not return a floating ``(N,)``
            tensor; a NaN or inf input gradient (checked on the first step); a model whose
            output does not depend on its input through autograd; with ``band``, what
            :func:`pgd` refuses.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from shapebias.attacks import projected_ascent
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> clean = torch.rand(2, 3, 32, 32)
        >>> with torch.no_grad():
        ...     target = F.softmax(model(clean), dim=1)
        >>> def kl(logits, step):  # TRADES's objective, per sample
        ...     return F.kl_div(F.log_softmax(logits, 1), target, reduction="none").sum(1)
        >>> adv = projected_ascent(model, clean, clean, kl, eps=8 / 255, steps=3)
        >>> bool((adv - clean).abs().max() <= 8 / 255 + 1e-6)
        True

    References:
        Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR
        2018. Zhang et al., "Theoretically Principled Trade-off between Robustness and
        Accuracy", ICML 2019 (TRADES).
    """
    check_model(model)
    check_callable(objective, "objective")
    check_images(clean, "clean")
    check_perturbation(start, "start")
    if (start.shape, start.dtype, start.device) != (clean.shape, clean.dtype, clean.device):
        raise ValueError(
            f"start must match clean: shape {tuple(clean.shape)}, {clean.dtype} on "
            f"{clean.device}; got {tuple(start.shape)}, {start.dtype} on {start.device}."
        )
    check_choice(norm, "norm", NORMS)
    eps_t = check_eps(eps, clean, pixel_bound=norm == "linf")
    check_int(steps, "steps", low=0)
    check_bool(progress, "progress")
    step_t, keep = _step_and_band(step_size, eps_t, steps, norm, band, clean, "clean")
    return ascend(
        model,
        start,
        clean.detach(),
        _checked_objective(objective, clean.shape[0]),
        eps=eps_t,
        step_size=step_t,
        steps=steps,
        norm=norm,
        check_gradient=True,
        progress=progress,
        band=keep,
    )


def _ascend(
    model: Any,
    x: torch.Tensor,
    clean: torch.Tensor,
    labels: torch.Tensor,
    plan: _Plan,
    check_output: bool,
) -> torch.Tensor:
    """The plain PGD loop on the attack objective (logits checked on the first step)."""

    def objective(logits: torch.Tensor, step: int) -> torch.Tensor:
        if check_output and step == 0:
            check_logits(logits, clean.shape[0], labels)
        return attack_objective(logits, labels, plan.loss, plan.targeted)

    x = ascend(
        model,
        x,
        clean,
        objective,
        eps=plan.eps,
        step_size=plan.step_size,
        steps=plan.steps,
        norm=plan.norm,
        check_gradient=check_output,
        progress=plan.progress,
        band=plan.band,
    )
    if check_output and plan.steps == 0:
        check_logits(model(x), x.shape[0], labels)
    return x


def _better(best: _Outcome, new: _Outcome) -> _Outcome:
    """Per sample, the more successful of two outcomes: fooled first, then higher objective."""
    best_fooled, new_fooled = cast(torch.Tensor, best.fooled), cast(torch.Tensor, new.fooled)
    best_objective = cast(torch.Tensor, best.objective)
    new_objective = cast(torch.Tensor, new.objective)
    take = (new_fooled & ~best_fooled) | (
        (new_fooled == best_fooled) & (new_objective > best_objective)
    )
    return _Outcome(
        torch.where(take[:, None, None, None], new.adversarial, best.adversarial),
        best_fooled | new_fooled,
        torch.where(take, new_objective, best_objective),
    )


def run_attack(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    plan: _Plan,
    *,
    active: torch.Tensor | None = None,
) -> _Outcome:
    """Run every restart of a validated attack; keep, per sample, the most successful result.

    Args:
        active: optional boolean ``(N,)`` mask; samples outside it never go through the
            model and come back unchanged and not fooled.
    """
    evaluate_end = plan.restarts > 1 or active is not None
    if evaluate_end or plan.early_stop:
        refuse_stack(
            model,
            "pgd",
            "early_stop, restarts > 1 or robust_accuracy",
            " (In fit, pass eval_attack=None for a stack.)",
        )
    best = _one_run(
        model, images, labels, plan, active=active, check_output=True, evaluate_end=evaluate_end
    )
    for _ in range(plan.restarts - 1):
        todo = active
        if plan.early_stop:
            unfooled = ~cast(torch.Tensor, best.fooled)
            todo = unfooled if active is None else active & unfooled
        outcome = _one_run(
            model, images, labels, plan, active=todo, check_output=False, evaluate_end=True
        )
        best = _better(best, outcome)
    check_finite_gradient(best.adversarial, "attack")
    return best


def pgd(
    model: Any,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    steps: int = 10,
    step_size: float | torch.Tensor | None = None,
    norm: str = "linf",
    random_start: bool = True,
    restarts: int = 1,
    targeted: bool = False,
    loss: str = "ce",
    early_stop: bool = False,
    generator: torch.Generator | None = None,
    progress: bool = False,
    band: tuple[float, float] | None = None,
) -> torch.Tensor:
    """Projected gradient descent (Madry et al., 2018) in the L-inf or L2 ball.

    Each step ascends the attack objective (``x + a * sign(g)`` for L-inf,
    ``x + a * g / ||g||_2`` for L2), projects onto the ball of radius ``eps`` around the
    clean image (clamp for L-inf, ``d * min(1, eps / ||d||)`` for L2) and clips to
    ``[0, 1]``. Gradients are taken with :func:`torch.autograd.grad` with respect to the
    input only; no parameter ``.grad`` is written and the model's mode is not touched.

    Args:
        model: any callable ``images -> logits (N, K)``; normalisation inside it
            (:class:`~shapebias.models.NormalizedModel`).
        images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
        labels: ``(N,)`` int64 true labels, or target labels when ``targeted``.
        eps: budget in pixel units (``8/255``), a float or a per-sample ``(N,)`` tensor.
        steps: number of gradient steps (0 returns the start point).
        step_size: step length; default ``2.5 * eps / steps`` (Madry et al.).
        norm: ``"linf"`` or ``"l2"``.
        random_start: start uniformly inside the ball (L2: uniform in its volume).
        restarts: independent runs; per sample the most successful is kept (fooled
            first, then the highest objective).
        targeted: descend the loss of ``labels`` instead of ascending it.
        loss: ``"ce"`` (cross-entropy) or ``"margin"`` (Carlini-Wagner logit margin).
        early_stop: stop attacking a sample at the first iterate that fools the model
            and return that iterate (what robust accuracy needs; never a weaker attack).
        generator: source of the random start; same state, same output.
        progress: show a progress bar over the steps of each restart (memory does not
            grow with ``steps`` or ``restarts``; time does, linearly).
        band: restrict the perturbation to the radial frequency band ``[low, high)`` in
            cycles per image (:func:`shapebias.frequency.band_limit`; square images).
            Each step then ascends the band-limited gradient and maps the perturbation
            into band and ball exactly (L2: the Euclidean projection onto both; L-inf:
            the band-limited perturbation if it lies in the ball, else 10 rounds of
            Dykstra's projections and an exact scaling; see
            :func:`shapebias.attacks._threat.project_band`). The clip to ``[0, 1]``
            comes last, so energy outside the band comes only from pixels the clip
            moved (none for images at least ``max|d|`` from 0 and 1). Costs two real
            FFT pairs per step (L-inf: twelve on steps that need Dykstra's rounds).
            ``None`` (default): every frequency, the plain attack.

    Returns:
        Detached adversarial images, same shape, dtype and device as ``images``, within
        ``eps`` of them and in ``[0, 1]``.

    Raises:
        TypeError: non-tensor or integer images, labels not int64, non-callable model,
            a model returning a non-tensor,
            ``random_start``, ``targeted``, ``early_stop`` or ``progress`` not a ``bool``,
            ``band`` not a pair of numbers.
        ValueError: bad shapes or ranges, negative, NaN or infinite ``eps``/``step_size``
            (above 1 in L-inf: ``8`` for ``8/255``), negative ``steps``, unknown ``norm``
            or ``loss``, labels outside the model's classes, a model returning NaN/inf
            logits or input gradients (checked on the first step, and the result once),
            a model whose output does not depend on the images through autograd (a
            ``.detach()``, rounding or ``torch.no_grad()`` in its ``forward``), a
            :class:`~shapebias.models.StackedModels` with ``early_stop`` or
            ``restarts > 1``;
            with ``band``: non-square images, a band outside ``[0, Nyquist]`` or
            ``low >= high`` or one holding no frequency.

    Warns:
        TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

    Example:
        >>> import torch
        >>> from shapebias.attacks import pgd
        >>> from shapebias.models import small_cnn
        >>> model = small_cnn(10).eval()
        >>> images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
        >>> generator = torch.Generator().manual_seed(0)
        >>> adv = pgd(model, images, labels, eps=8 / 255, generator=generator)
        >>> bool((adv - images).abs().max() <= 8 / 255 + 1e-6)
        True

    References:
        Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
    """
    plan = plan_attack(
        model,
        images,
        labels,
        eps=eps,
        steps=steps,
        step_size=step_size,
        norm=norm,
        random_start=random_start,
        restarts=restarts,
        targeted=targeted,
        loss=loss,
        early_stop=early_stop,
        generator=generator,
        progress=progress,
        band=band,
    )
    warn_if_train_mode(model, "pgd")
    return run_attack(model, images, labels, plan).adversarial


@dataclass(frozen=True)
class PGD:
    """A configured :func:`pgd` attack, called as ``attack(model, images, labels)``.

    It holds configuration only, so one object serves training and evaluation.

    Example:
        >>> import torch
        >>> from shapebias.attacks import PGD
        >>> from shapebias.models import small_cnn
        >>> attack = PGD(eps=0.5, norm="l2", steps=5)
        >>> attack(small_cnn(10).eval(), torch.rand(2, 3, 32, 32), torch.tensor([1, 2])).shape
        torch.Size([2, 3, 32, 32])
    """

    eps: float | torch.Tensor
    steps: int = 10
    step_size: float | torch.Tensor | None = None
    norm: str = "linf"
    random_start: bool = True
    restarts: int = 1
    targeted: bool = False
    loss: str = "ce"
    early_stop: bool = False
    generator: torch.Generator | None = None
    progress: bool = False
    band: tuple[float, float] | None = None

    def __call__(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return pgd(model, images, labels, **config_kwargs(self))

    def plan(self, model: Any, images: torch.Tensor, labels: torch.Tensor) -> _Plan:
        """Validate the inputs and settings for one call (used by ``robust_accuracy``)."""
        return plan_attack(model, images, labels, **config_kwargs(self))

    def fooled(
        self,
        model: Any,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        active: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Which samples this attack fools, from one run, without a second forward pass.

        Runs the attack (every restart) on the ``active`` samples and returns, per sample,
        whether its returned image is misclassified (targeted: classified as the target
        label), as judged by the attack's own evaluation of its end points. With
        ``early_stop`` a sample leaves the batch at its first fooling iterate, so
        fooling is found at the smallest cost (what a per-sample budget search needs:
        :func:`~shapebias.frequency.band_eps_index` bisects on it). Samples outside
        ``active`` never go through the model and count as not fooled; the random start
        is drawn for the whole batch either way, so a sample's start does not depend on
        the mask.

        Args:
            model: callable ``images -> logits (N, K)``, as for :func:`pgd`.
            images: clean images ``(N, C, H, W)`` in ``[0, 1]``.
            labels: ``(N,)`` int64 true labels (target labels when ``targeted``).
            active: optional boolean ``(N,)`` mask on ``images``' device of the samples
                to attack; default all.

        Returns:
            ``(N,)`` bool on ``images``' device.

        Raises:
            TypeError, ValueError: what :func:`pgd` refuses; ``active`` not a boolean
                ``(N,)`` tensor on ``images``' device; a
                :class:`~shapebias.models.StackedModels` (a run on a subset of the batch
                would route images to the wrong member).

        Warns:
            TrainModeWarning: the model has BatchNorm/Dropout layers in training mode.

        Example:
            >>> import torch
            >>> from shapebias.attacks import PGD
            >>> from shapebias.models import small_cnn
            >>> model = small_cnn(10).eval()
            >>> images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
            >>> attack = PGD(eps=8 / 255, steps=3, early_stop=True)
            >>> active = torch.tensor([True, True, True, False])
            >>> fooled = attack.fooled(model, images, labels, active=active)
            >>> fooled.shape, bool(fooled[3])
            (torch.Size([4]), False)
        """
        plan = self.plan(model, images, labels)
        if active is None:
            active = torch.ones(images.shape[0], dtype=torch.bool, device=images.device)
        elif not isinstance(active, torch.Tensor) or active.dtype != torch.bool:
            raise TypeError(
                f"active must be a bool tensor of shape ({images.shape[0]},) or None, got "
                f"{getattr(active, 'dtype', type(active).__name__)}."
            )
        elif active.shape != (images.shape[0],) or active.device != images.device:
            raise ValueError(
                f"active must have shape ({images.shape[0]},) on {images.device}, one flag per "
                f"image, got {tuple(active.shape)} on {active.device}."
            )
        warn_if_train_mode(model, "PGD.fooled")
        fooled = run_attack(model, images, labels, plan, active=active).fooled
        if fooled is None:  # an active= mask makes run_attack evaluate the end points
            raise RuntimeError("PGD.fooled internal error: the attack left no outcome.")
        return fooled
